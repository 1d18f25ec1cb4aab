"""A batch created empty and filled by several requests; idempotency keys make retries safe.

Driven through the real ASGI app on a real SQLite store (no broker: documents stay queued).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.config import Settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    settings.max_batch_files = 5
    settings.max_file_bytes = 10_000
    with TestClient(create_app(settings, configure_logs=False)) as c:
        yield c


Part = tuple[str, tuple[str, bytes, str, dict[str, str]]]


def _parts(*names: str, keyed: bool = True) -> list[Part]:
    return [("files", (n, f"content of {n}".encode(), "text/plain",
                       {"Idempotency-Key": f"key-{n}"} if keyed else {})) for n in names]


def _new_batch(client: TestClient, **body: Any) -> str:
    r = client.post("/api/batches", json=body or None)
    assert r.status_code == 201, r.text
    return str(r.json()["batch_id"])


def test_a_batch_arrives_in_several_requests_and_counts_right(client: TestClient) -> None:
    batch_id = _new_batch(client, name="scans")
    assert client.get(f"/api/batches/{batch_id}").json()["document_count"] == 0
    first = client.post(f"/api/batches/{batch_id}/files", files=_parts("a.txt", "b.txt"))
    assert first.status_code == 202, first.text
    assert first.json()["document_count"] == 2 and first.json()["created"] == 2
    second = client.post(f"/api/batches/{batch_id}/files", files=_parts("c.txt"))
    assert second.json()["document_count"] == 3
    batch = client.get(f"/api/batches/{batch_id}").json()
    assert batch["name"] == "scans" and batch["document_count"] == 3
    assert batch["source"] == "batch-api"
    status = client.get(f"/api/batch-status/{batch_id}").json()
    assert status["total"] == 3 and status["queued"] == 3


def test_a_retried_request_returns_the_same_documents_and_creates_none(
        client: TestClient) -> None:
    batch_id = _new_batch(client)
    first = client.post(f"/api/batches/{batch_id}/files", files=_parts("a.txt", "b.txt")).json()
    again = client.post(f"/api/batches/{batch_id}/files",
                        files=_parts("a.txt", "b.txt", "c.txt")).json()
    assert (again["created"], again["existing"], again["document_count"]) == (1, 2, 3)
    ids = {d["idempotency_key"]: d["document_id"] for d in first["documents"]}
    replayed = {d["idempotency_key"]: d for d in again["documents"]}
    assert replayed["key-a.txt"]["document_id"] == ids["key-a.txt"]
    assert not replayed["key-a.txt"]["created"] and replayed["key-c.txt"]["created"]
    assert client.get("/api/documents", params={"count": True}).json()["total"] == 3


def test_a_key_is_known_across_batches(client: TestClient) -> None:
    first, second = _new_batch(client), _new_batch(client)
    client.post(f"/api/batches/{first}/files", files=_parts("a.txt"))
    reply = client.post(f"/api/batches/{second}/files", files=_parts("a.txt")).json()
    (doc,) = reply["documents"]
    assert doc["batch_id"] == first and not doc["created"]
    assert client.get(f"/api/batches/{second}").json()["document_count"] == 0


def test_the_same_key_twice_in_one_request_is_one_document(client: TestClient) -> None:
    batch_id = _new_batch(client)
    reply = client.post(f"/api/batches/{batch_id}/files",
                        files=_parts("a.txt") + _parts("a.txt")).json()
    assert reply["created"] == 1 and reply["document_count"] == 1
    assert len({d["document_id"] for d in reply["documents"]}) == 1


def test_files_without_keys_are_each_a_new_document(client: TestClient) -> None:
    batch_id = _new_batch(client)
    for _ in range(2):
        client.post(f"/api/batches/{batch_id}/files", files=_parts("a.txt", keyed=False))
    assert client.get(f"/api/batches/{batch_id}").json()["document_count"] == 2


def test_creating_a_batch_twice_with_one_key_gives_one_batch(client: TestClient) -> None:
    headers = {"Idempotency-Key": "run-1:batch:0"}
    first = client.post("/api/batches", json={"name": "x"}, headers=headers)
    again = client.post("/api/batches", json={"name": "x"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["batch_id"] == again.json()["batch_id"]
    r = client.post("/api/batches", headers={"Idempotency-Key": "no spaces allowed"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"


def test_a_batch_cannot_grow_past_the_limit(client: TestClient) -> None:
    batch_id = _new_batch(client)
    client.post(f"/api/batches/{batch_id}/files", files=_parts("1", "2", "3", "4"))
    r = client.post(f"/api/batches/{batch_id}/files", files=_parts("5", "6"))
    assert r.status_code == 422 and r.json()["code"] == "batch_full"
    assert "limit of 5" in r.json()["message"]
    # A retry of files already in the batch is not new and still answers.
    r = client.post(f"/api/batches/{batch_id}/files", files=_parts("1", "2", "5"))
    assert r.status_code == 202 and r.json()["document_count"] == 5
    assert client.get(f"/api/batches/{batch_id}").json()["document_count"] == 5


def test_per_request_limits_are_clear_413_and_422(client: TestClient) -> None:
    batch_id = _new_batch(client)
    big = [("files", ("big.bin", b"x" * 20_000, "application/octet-stream",
                      {"Idempotency-Key": "big"}))]
    r = client.post(f"/api/batches/{batch_id}/files", files=big)
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    assert "big.bin" in r.json()["message"] and "10000 bytes" in r.json()["message"]
    r = client.post(f"/api/batches/{batch_id}/files", files=_parts(*"abcdef"))
    assert r.status_code == 422 and r.json()["code"] == "too_many_files"
    bad = [("files", ("a.txt", b"a", "text/plain", {"Idempotency-Key": "a/b"}))]
    r = client.post(f"/api/batches/{batch_id}/files", files=bad)
    assert r.status_code == 422 and r.json()["code"] == "invalid_idempotency_key"
    r = client.post(f"/api/batches/{batch_id}/files", data={"x": "1"},
                    files={"note": ("", b"", "text/plain")})
    assert r.status_code == 422 and r.json()["code"] in ("no_files", "invalid_request")
    assert client.get(f"/api/batches/{batch_id}").json()["document_count"] == 0
    assert client.get("/api/documents", params={"count": True}).json()["total"] == 0


def test_an_unknown_batch_is_a_json_404(client: TestClient) -> None:
    r = client.post("/api/batches/nope/files", files=_parts("a.txt"))
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert client.get("/api/batches/nope").status_code == 404


def test_limits_tell_a_client_what_to_respect(client: TestClient) -> None:
    assert client.get("/api/limits").json() == {"max_files_per_batch": 5,
                                                "max_file_bytes": 10_000}


def test_batch_upload_honours_per_file_keys(client: TestClient) -> None:
    first = client.post("/api/batch-upload", files=_parts("a.txt", "b.txt"),
                        data={"batch_name": "scans"})
    assert first.status_code == 202, first.text
    body = first.json()
    assert (body["document_count"], body["created"], body["existing"]) == (2, 2, 0)
    ids = {d["idempotency_key"]: d["document_id"] for d in body["documents"]}
    # The same request again, its answer lost: the same documents, the same batch, nothing new.
    again = client.post("/api/batch-upload", files=_parts("a.txt", "b.txt"),
                        data={"batch_name": "scans"}).json()
    assert again["batch_id"] == body["batch_id"]
    assert (again["document_count"], again["created"], again["existing"]) == (2, 0, 2)
    assert {d["idempotency_key"]: d["document_id"] for d in again["documents"]} == ids
    # A known key among new files: a new batch of the new ones; the known one stays put.
    mixed = client.post("/api/batch-upload", files=_parts("b.txt", "c.txt")).json()
    assert mixed["batch_id"] != body["batch_id"]
    assert (mixed["document_count"], mixed["created"], mixed["existing"]) == (1, 1, 1)
    known, new = mixed["documents"]
    assert (known["document_id"], known["batch_id"], known["created"]) == (
        ids["key-b.txt"], body["batch_id"], False)
    assert new["batch_id"] == mixed["batch_id"] and new["created"]
    # Keys known from an appended batch count too; files without keys are always new.
    appended = _new_batch(client)
    client.post(f"/api/batches/{appended}/files", files=_parts("d.txt"))
    reply = client.post("/api/batch-upload", files=_parts("d.txt")).json()
    assert reply["batch_id"] == appended and reply["created"] == 0
    for _ in range(2):
        r = client.post("/api/batch-upload", files=_parts("e.txt", keyed=False))
        assert r.status_code == 202 and r.json()["created"] == 1
    assert client.get("/api/documents", params={"count": True}).json()["total"] == 6
    for batch_id, count in ((body["batch_id"], 2), (mixed["batch_id"], 1), (appended, 1)):
        assert client.get(f"/api/batch-status/{batch_id}").json()["total"] == count
        assert client.get(f"/api/batches/{batch_id}").json()["document_count"] == count


def test_batch_upload_refuses_a_bad_key_and_stores_nothing(client: TestClient) -> None:
    bad = [("files", ("a.txt", b"a", "text/plain", {"Idempotency-Key": "a b"}))]
    r = client.post("/api/batch-upload", files=bad)
    assert r.status_code == 422 and r.json()["code"] == "invalid_idempotency_key"
    assert client.get("/api/documents", params={"count": True}).json()["total"] == 0


def test_openapi_documents_the_batch_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"post"} <= set(paths["/api/batches"]) and "get" in paths["/api/batches/{batch_id}"]
    assert "get" in paths["/api/limits"]
    for path in ("/api/batches/{batch_id}/files", "/api/batch-upload"):
        operation = paths[path]["post"]
        form = operation["requestBody"]["content"]["multipart/form-data"]
        assert "files" in form["schema"]["properties"]
        key = form["encoding"]["files"]["headers"]["Idempotency-Key"]
        assert "A key seen before returns that document" in key["description"]
        assert "Idempotency-Key" in operation["description"]
