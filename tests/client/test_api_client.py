"""What the client puts on the wire: the bearer token, one Idempotency-Key per file part, and
the server's {code, message} errors turned into RequestFailed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from docflow.client.api import DocflowApi, Part
from docflow.client.errors import RequestFailed, UnreadableFile
from docflow.client.retry import RetryPolicy


def test_token_and_per_file_keys_go_out_with_the_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"alpha")
    (tmp_path / "b.txt").write_bytes(b"beta")
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"documents": [
            {"idempotency_key": "k-a", "document_id": "d1", "batch_id": "b", "created": True},
            {"idempotency_key": "k-b", "document_id": "d2", "batch_id": "b", "created": False},
        ]})

    async def go() -> list:
        api = DocflowApi("http://docflow", token="s3cret", transport=httpx.MockTransport(server))
        try:
            return await api.append("b", [Part("a.txt", str(tmp_path / "a.txt"), "k-a", 5),
                                          Part("sub/b.txt", str(tmp_path / "b.txt"), "k-b", 4)])
        finally:
            await api.aclose()

    placed = asyncio.run(go())
    assert [(p.document_id, p.created) for p in placed] == [("d1", True), ("d2", False)]
    (request,) = seen
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.url.path == "/api/batches/b/files"
    body = request.read()
    assert body.count(b"Idempotency-Key: ") == 2
    assert b'filename="a.txt"\r\nIdempotency-Key: k-a' in body
    assert b"alpha" in body and b"beta" in body


def test_server_errors_become_typed_failures(tmp_path: Path) -> None:
    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/limits":
            return httpx.Response(502, text="<html>bad gateway</html>")
        return httpx.Response(422, json={"code": "batch_full", "message": "Batch is full."})

    async def go(call: str) -> None:
        api = DocflowApi("http://docflow", transport=httpx.MockTransport(server),
                         policy=RetryPolicy(attempts=1))
        try:
            if call == "limits":
                await api.limits()
            else:
                await api.create_batch("x", "key")
        finally:
            await api.aclose()

    with pytest.raises(RequestFailed) as full:
        asyncio.run(go("create"))
    assert (full.value.status, full.value.code, full.value.message) == (
        422, "batch_full", "Batch is full.")
    with pytest.raises(RequestFailed) as gateway:
        asyncio.run(go("limits"))
    assert gateway.value.code == "http_502" and "bad gateway" in gateway.value.message


def test_a_vanished_file_is_named(tmp_path: Path) -> None:
    async def go() -> None:
        api = DocflowApi("http://docflow", transport=httpx.MockTransport(
            lambda r: httpx.Response(500)))
        try:
            await api.append("b", [Part("gone.txt", str(tmp_path / "gone.txt"), "k", 1)])
        finally:
            await api.aclose()

    with pytest.raises(UnreadableFile) as exc:
        asyncio.run(go())
    assert exc.value.rel == "gone.txt" and exc.value.code == "unreadable"
    assert exc.value.message.startswith("Could not read the file")
