"""The HTTP contract, driven through the real ASGI app on a real SQLite store (no broker)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.config import Settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    settings.max_batch_files = 3
    settings.max_file_bytes = 10_000
    with TestClient(create_app(settings, configure_logs=False)) as c:
        yield c


def _files(*names: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (n, f"content of {n}".encode(), "text/plain")) for n in names]


def test_single_upload_is_queued_and_can_be_followed(client: TestClient) -> None:
    r = client.post("/api/upload", files={"file": ("note.txt", b"hello", "text/plain")})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "queued" and body["filename"] == "note.txt"
    task = client.get(f"/api/task-status/{body['task_id']}").json()
    assert task["document_id"] == body["document_id"] and task["status"] == "queued"
    doc = client.get(f"/api/documents/{body['document_id']}").json()
    assert doc["status"] == "queued" and doc["text"] is None and doc["size"] == 5
    original = client.get(f"/api/documents/{body['document_id']}/file")
    assert original.content == b"hello"
    assert "note.txt" in original.headers["content-disposition"]


def test_quotes_and_line_breaks_in_names_arrive_as_the_user_named_the_file(
        client: TestClient) -> None:
    # httpx, like browsers, sends '"' as %22 and CR/LF as %0D/%0A; any other % is the name's.
    r = client.post("/api/upload", files={"file": ('a"quote.txt', b"q", "text/plain")})
    assert r.status_code == 202, r.text
    assert r.json()["filename"] == 'a"quote.txt'
    doc = client.get(f"/api/documents/{r.json()['document_id']}").json()
    assert doc["filename"] == 'a"quote.txt'
    r = client.post("/api/batch-upload", files=_files("line\nbreak.txt", "cr\rhere.txt",
                                                      "100%25 sure.txt"))
    names = [d["filename"] for d in r.json()["documents"]]
    # Control characters in a stored name become U+FFFD, as for any other sender.
    assert names == ["line\ufffdbreak.txt", "cr\ufffdhere.txt", "100%25 sure.txt"]


def test_a_folder_upload_keeps_each_files_path_and_lists_by_folder(client: TestClient) -> None:
    # Part filenames holding folders, as browsers send a folder (webkitdirectory) and as
    # `docflow upload` does: the same name in two folders stays two findable documents.
    r = client.post("/api/batch-upload", files=_files("2019/invoice.pdf", "2020/invoice.pdf",
                                                      "2019/q1/invoice.pdf"))
    assert r.status_code == 202, r.text
    sent = r.json()["documents"]
    assert [d["filename"] for d in sent] == ["invoice.pdf"] * 3
    assert [d["source_path"] for d in sent] == ["2019/invoice.pdf", "2020/invoice.pdf",
                                                "2019/q1/invoice.pdf"]
    batch = client.post("/api/batches", json={"name": "more"}).json()["batch_id"]
    r = client.post(f"/api/batches/{batch}/files",
                    files=_files("2019\\scan.pdf", "../../etc/passwd", "plain.txt"))
    assert r.status_code == 202, r.text
    assert [d["source_path"] for d in r.json()["documents"]] == ["2019/scan.pdf", "etc/passwd",
                                                                 "plain.txt"]
    one = client.post("/api/upload", files={"file": ("/2019/../2021/note.txt", b"n")}).json()
    assert (one["filename"], one["source_path"]) == ("note.txt", "2021/note.txt")
    doc = client.get(f"/api/documents/{sent[1]['document_id']}").json()
    assert (doc["filename"], doc["source_path"]) == ("invoice.pdf", "2020/invoice.pdf")

    listing = client.get("/api/documents", params={"path_prefix": "2019/", "count": True}).json()
    assert listing["total"] == 3
    assert {d["source_path"] for d in listing["documents"]} == {
        "2019/invoice.pdf", "2019/q1/invoice.pdf", "2019/scan.pdf"}
    listing = client.get("/api/documents", params={"path_prefix": "2019/", "batch_id": batch})
    assert [d["source_path"] for d in listing.json()["documents"]] == ["2019/scan.pdf"]
    every = client.get("/api/documents", params={"count": True}).json()
    assert every["total"] == 7 and all(d["source_path"] for d in every["documents"])


def test_batch_upload_registers_every_file_before_answering(client: TestClient) -> None:
    r = client.post("/api/batch-upload", files=_files("a.txt", "b.txt", "c.txt"),
                    data={"batch_name": "three"})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["document_count"] == 3 and len(body["documents"]) == 3
    status = client.get(f"/api/batch-status/{body['batch_id']}").json()
    assert status == {"batch_id": body["batch_id"], "total": 3, "completed": 0,
                      "processing": 0, "queued": 3, "failed": 0, "cancelled": 0,
                      "progress_percent": 0.0, "with_warnings": 0, "warnings": {}}
    listing = client.get("/api/documents", params={"batch_id": body["batch_id"],
                                                    "limit": 2, "count": True}).json()
    assert listing["total"] == 3 and len(listing["documents"]) == 2
    assert {d["filename"] for d in listing["documents"]} <= {"a.txt", "b.txt", "c.txt"}


def test_a_batch_without_files_is_a_clear_422(client: TestClient) -> None:
    r = client.post("/api/batch-upload", data={"batch_name": "empty"},
                    files={"note": ("", b"", "text/plain")})
    assert r.status_code == 422 and r.json()["code"] in ("no_files", "invalid_request")
    r = client.post("/api/batch-upload", data={"batch_name": "empty"},
                    headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 422 and r.json()["message"]
    assert client.get("/api/documents", params={"count": True}).json()["total"] == 0


def test_too_many_files_names_the_limit(client: TestClient) -> None:
    r = client.post("/api/batch-upload", files=_files("1", "2", "3", "4"))
    assert r.status_code == 422 and r.json()["code"] == "too_many_files"
    assert "at most 3" in r.json()["message"]
    assert client.get("/api/documents", params={"count": True}).json()["total"] == 0


def test_a_file_over_the_size_limit_is_refused_with_413(client: TestClient) -> None:
    r = client.post("/api/batch-upload",
                    files=[("files", ("big.bin", b"x" * 20_000, "application/octet-stream"))])
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    r = client.post("/api/upload", files={"file": ("big.bin", b"x" * 200_000)})
    assert r.status_code == 413
    assert client.get("/api/documents", params={"count": True}).json()["total"] == 0


def test_not_multipart_is_refused(client: TestClient) -> None:
    r = client.post("/api/upload", content=b"raw", headers={"content-type": "text/plain"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"


def test_unknown_ids_are_json_404s(client: TestClient) -> None:
    for path in ("/api/documents/nope", "/api/documents/nope/file", "/api/task-status/nope",
                 "/api/batch-status/nope"):
        r = client.get(path)
        assert r.status_code == 404 and r.json()["code"] == "not_found", path


def test_bad_query_parameters_are_json_422s(client: TestClient) -> None:
    r = client.get("/api/documents", params={"status": "lost"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    assert "status" in r.json()["message"]


def test_health_is_503_without_broker_and_workers(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 503
    body = r.json()
    assert body["database"]["ok"] and not body["broker"]["ok"] and not body["workers"]["ok"]


def test_workers_is_empty_without_heartbeats(client: TestClient) -> None:
    assert client.get("/api/workers").json() == {"worker_count": 0, "active_tasks": 0,
                                                 "workers": []}


def test_search_before_anything_was_indexed_finds_nothing(client: TestClient) -> None:
    r = client.get("/api/search", params={"q": "invoice"})
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 0 and r.json()["hits"] == []


def test_openapi_documents_every_route_of_the_contract(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/upload", "/api/batch-upload", "/api/task-status/{task_id}",
                 "/api/batch-status/{batch_id}", "/api/workers", "/health", "/api/search",
                 "/api/documents", "/api/documents/{document_id}",
                 "/api/documents/{document_id}/file"):
        assert path in paths, path
    body = paths["/api/batch-upload"]["post"]["requestBody"]["content"]
    assert "files" in body["multipart/form-data"]["schema"]["properties"]
    listing = {p["name"]: p for p in paths["/api/documents"]["get"]["parameters"]}
    assert "folder and everything below" in listing["path_prefix"]["description"]
    for shape in ("DocumentSummary", "DocumentDetail", "SearchHitOut", "UploadResponse",
                  "AppendedDocumentOut"):
        field = spec["components"]["schemas"][shape]["properties"]["source_path"]
        assert "uploaded folder" in field["description"], shape
    assert client.get("/docs").status_code == 200


def test_openapi_explains_every_operation_and_parameter(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    gaps = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            for key in ("summary", "description"):
                if not op.get(key):
                    gaps.append(f"{method.upper()} {path}: no {key}")
            for param in op.get("parameters", []):
                if not (param.get("description") or param.get("schema", {}).get("description")):
                    gaps.append(f"{method.upper()} {path}: parameter {param['name']}")
            for code, reply in op.get("responses", {}).items():
                if not reply.get("description"):
                    gaps.append(f"{method.upper()} {path}: response {code}")
    assert gaps == []


def test_originals_in_an_s3_bucket_are_stored_and_sent_back(settings: Settings,
                                                            s3_endpoint: str) -> None:
    settings.blob_store, settings.s3_bucket = "s3", "docflow-api-test"
    settings.s3_endpoint_url, settings.s3_region = s3_endpoint, "us-east-1"
    settings.s3_access_key_id = settings.s3_secret_access_key = "test"
    from docflow.store import open_blobs

    open_blobs(settings).client.create_bucket(Bucket="docflow-api-test")  # type: ignore[attr-defined]
    with TestClient(create_app(settings, configure_logs=False)) as client:
        body = client.post("/api/upload", files={"file": ("s3.txt", b"in a bucket")}).json()
        original = client.get(f"/api/documents/{body['document_id']}/file")
    assert original.status_code == 200 and original.content == b"in a bucket"
    assert not any((settings.resolved_data_dir / "originals").rglob("*"))



def test_uploads_reach_originals_on_another_filesystem(settings: Settings,
                                                       other_filesystem: Path) -> None:
    """DOCFLOW_ORIGINALS_DIR on a shared volume while the data dir (and its upload tmp) is
    on a local disk: the single and the batch upload both store their originals."""
    settings.originals_dir = other_filesystem / "originals"
    with TestClient(create_app(settings, configure_logs=False)) as client:
        one = client.post("/api/upload", files={"file": ("one.txt", b"on the volume")})
        batch = client.post("/api/batch-upload", files=_files("a.txt", "b.txt"))
        assert one.status_code == 202 and batch.status_code == 202, (one.text, batch.text)
        ids = [one.json()["document_id"]] + [d["document_id"] for d in batch.json()["documents"]]
        sent = [client.get(f"/api/documents/{i}/file").content for i in ids]
    assert sent == [b"on the volume", b"content of a.txt", b"content of b.txt"]
    assert sum(1 for p in settings.blob_dir.rglob("*") if p.is_file()) == 3
    assert list(settings.upload_tmp_dir.iterdir()) == []

@pytest.mark.postgres
def test_health_is_503_when_the_database_goes_away(settings: Settings,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """All well, then the database is dropped under the running API: 503 naming the database."""
    import psycopg

    from docflow.broker import EmbeddedBroker
    from docflow.store import workers
    from tests.conftest import POSTGRES_ADMIN_URL

    name = f"docflow_health_{os.getpid()}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    broker = EmbeddedBroker(settings.broker_dir, settings.broker_url_file)
    broker.start()
    try:
        settings.database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        settings.broker_url = broker.url
        with TestClient(create_app(settings, configure_logs=False)) as client:
            state = client.app.state.docflow
            with state.store.db.write() as session:
                workers.heartbeat(session, name="w@h", hostname="h", pid=1, concurrency=1,
                                  queues="default")
            assert client.get("/health").status_code == 200
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            r = client.get("/health")
            body = r.json()
            assert r.status_code == 503 and body["status"] == "degraded"
            assert not body["database"]["ok"] and body["database"]["detail"]
            assert body["broker"]["ok"] and not body["workers"]["ok"]
    finally:
        broker.stop()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
