"""A 2 GB upload over the limit is refused with 413 long before it arrives in full.

A raw socket plays a client that streams a 2 GB body slowly enough to notice the answer: it
stops sending as soon as the server has replied, and the test checks how much it had sent and
that nothing of the upload stayed on disk.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from docflow.config import Settings
from tests.client.conftest import ApiServer

TWO_GB = 2 * 1024**3
CHUNK = 64 * 1024
LIMIT = 1024 * 1024
GIVE_UP_AFTER = 64 * 1024 * 1024  # a server still reading here would read all 2 GB


@pytest.fixture
def server(settings: Settings) -> Iterator[ApiServer]:
    settings.max_file_bytes = LIMIT
    api = ApiServer(settings).start()
    yield api
    api.stop()


def _stream(port: int, path: str, field: str, chunked: bool) -> tuple[int, dict, int]:
    """Send a multipart body of one 2 GB file until the server answers; return the status, the
    JSON body and the bytes sent."""
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"huge.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    framing = ("Transfer-Encoding: chunked" if chunked
               else f"Content-Length: {len(head) + TWO_GB + len(tail)}")
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\n{framing}\r\n\r\n")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)  # before connecting
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    sent = 0
    try:
        sock.sendall(request.encode())
        payload = head
        while sent < GIVE_UP_AFTER:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            block = payload or bytes(CHUNK)
            payload = b""
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server closed its side after answering
            sent += len(block)
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply) < reply.index(b"\r\n\r\n") + 10:
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    finally:
        sock.close()
    status = int(reply.split(b" ", 2)[1])
    body = reply.split(b"\r\n\r\n", 1)[1]
    if chunked or b"transfer-encoding: chunked" in reply.lower().split(b"\r\n\r\n")[0]:
        body = body.split(b"\r\n", 1)[1] if b"\r\n" in body else body
    return status, json.loads(body[:body.rindex(b"}") + 1]), sent


def _files_under(root: Path) -> list[Path]:
    """Big files under `root`, the database's own (its write-ahead log) left aside."""
    return [p for p in root.rglob("*") if p.is_file() and p.stat().st_size > LIMIT // 2
            and not p.name.startswith("docflow.db")]


@pytest.mark.parametrize("path, field", [("/api/upload", "file"),
                                         ("/api/batch-upload", "files")])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_2_gb_upload_is_refused_with_413_before_it_is_written(
        server: ApiServer, settings: Settings, path: str, field: str, chunked: bool) -> None:
    status, body, sent = _stream(server.port, path, field, chunked)
    assert status == 413 and body["code"] == "too_large", (status, body)
    assert str(LIMIT) in body["message"]
    # Refused a little past the limit (the rest sat in socket buffers), not after the 2 GB.
    assert sent < LIMIT + 16 * 1024 * 1024, sent
    assert _files_under(settings.data_dir) == []
