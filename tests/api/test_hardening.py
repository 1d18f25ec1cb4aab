"""No request takes the service down: hostile parameters, bodies and a failing disk each get a
JSON answer with a documented status, and a refused upload leaves nothing on disk."""

from __future__ import annotations

import errno
import shutil
from collections import namedtuple
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.config import Settings
from docflow.search import MAX_SEARCH_DEPTH, SearchDocument, open_index
from docflow.store.blobs import BlobWriter


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    settings.max_batch_files = 3
    settings.max_file_bytes = 10_000
    settings.min_free_disk_bytes = 0
    index = open_index("tantivy", settings.index_dir, writer=True)
    index.index([SearchDocument("d1", "hello.txt", "letter", "b1", "hello world")])
    index.close()
    with TestClient(create_app(settings, configure_logs=False),
                    raise_server_exceptions=False) as c:
        yield c


def _files(*names: str, size: int = 10) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (n, n.encode() * size, "text/plain")) for n in names]


def _stored_files(settings: Settings) -> list[Path]:
    return [p for d in (settings.blob_dir, settings.upload_tmp_dir) for p in d.rglob("*")
            if p.is_file()]


def _json_error(r, status: int, code: str | None = None) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["message"]
    if code is not None:
        assert body["code"] == code, body


@pytest.mark.parametrize("params", [
    {"q": "a", "offset": 10**12}, {"q": "a", "offset": 2**63}, {"q": "a", "offset": -1},
    {"q": "a", "limit": 10**30}, {"q": "a", "offset": MAX_SEARCH_DEPTH - 10, "limit": 20},
    {"q": "a" * 5_000}, {"q": "a", "doc_type": "x" * 1_000}, {"q": "a", "batch_id": "x" * 1_000},
    {"q": "a", "mode": "nope"}, {"q": ""}])
def test_search_parameters_out_of_bounds_are_json_422s(client: TestClient, params) -> None:
    _json_error(client.get("/api/search", params=params), 422)


def test_the_deepest_search_page_is_answered(client: TestClient) -> None:
    r = client.get("/api/search", params={"q": "hello", "offset": MAX_SEARCH_DEPTH - 200,
                                          "limit": 200})
    assert r.status_code == 200 and r.json()["hits"] == []


@pytest.mark.parametrize("params", [
    {"offset": "9999999999999999999"}, {"offset": 10**12}, {"limit": 10**19},
    {"batch_id": "x" * 1_000}, {"doc_type": "x" * 1_000}, {"parent_id": "x" * 1_000},
    {"path_prefix": "x" * 2_000}, {"needs_review": "maybe"}])
def test_listing_parameters_out_of_bounds_are_json_422s(client: TestClient, params) -> None:
    _json_error(client.get("/api/documents", params=params), 422)


@pytest.mark.parametrize("q", ["text:*", "id:*", "sha256:*", "filename:*", "(" * 1_000 + "a",
                               "hello\\world", '"unbalanced', "nosuchfield:a"])
def test_queries_that_do_not_parse_are_searched_as_words(client: TestClient, q: str) -> None:
    r = client.get("/api/search", params={"q": f"{q} hello"})
    assert r.status_code == 200, r.text
    assert [h["id"] for h in r.json()["hits"]] == ["d1"]


def test_two_corrections_of_one_field_are_refused(client: TestClient) -> None:
    doc = client.post("/api/upload", files={"file": ("a.txt", b"total 12.50")}).json()
    r = client.patch(f"/api/documents/{doc['document_id']}", json={"fields": [
        {"name": "total", "value": "12.50"}, {"name": "total", "value": "13.00"}]})
    _json_error(r, 422, "duplicate_field")
    assert client.get(f"/api/documents/{doc['document_id']}").json()["fields"] == []


def test_a_boundary_over_the_rfc_limit_is_a_422(client: TestClient, settings: Settings) -> None:
    boundary = "b" * 300
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"a.txt\"\r\n\r\nhello\r\n--{boundary}--\r\n").encode()
    r = client.post("/api/upload", content=body,
                    headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    _json_error(r, 422, "invalid_request")
    assert _stored_files(settings) == []


def test_an_unterminated_part_leaves_no_temp_file(client: TestClient, settings: Settings) -> None:
    body = (b"--xyz\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n"
            b"\r\nhello, and then the body just stops")
    r = client.post("/api/batch-upload", content=body,
                    headers={"content-type": "multipart/form-data; boundary=xyz"})
    _json_error(r, 422, "invalid_request")
    assert _stored_files(settings) == []
    assert client.get("/api/documents", params={"count": True}).json()["total"] == 0


def test_a_refused_batch_leaves_no_originals_or_temp_files(client: TestClient,
                                                          settings: Settings) -> None:
    _json_error(client.post("/api/batch-upload", files=_files("1", "2", "3", "4")), 422,
                "too_many_files")
    assert _stored_files(settings) == []
    big = _files("ok.txt") + [("files", ("big.bin", b"x" * 20_000, "text/plain"))]
    _json_error(client.post("/api/batch-upload", files=big), 413, "too_large")
    assert _stored_files(settings) == []
    batch = client.post("/api/batches", json={}).json()["batch_id"]
    _json_error(client.post(f"/api/batches/{batch}/files", files=big), 413, "too_large")
    assert _stored_files(settings) == []
    assert client.get("/api/documents", params={"count": True}).json()["total"] == 0
    # The same files within the limits are stored.
    assert client.post("/api/batch-upload", files=_files("1", "2", "3")).status_code == 202
    assert len([p for p in settings.blob_dir.rglob("*") if p.is_file()]) == 3


@pytest.mark.parametrize(("code", "status", "answer"), [
    (errno.ENOSPC, 507, "insufficient_storage"), (errno.EDQUOT, 507, "insufficient_storage"),
    (errno.EROFS, 503, "storage_unavailable"), (errno.EACCES, 503, "storage_unavailable")])
def test_a_failing_disk_is_a_json_answer_and_leaves_nothing(
        client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch,
        code: int, status: int, answer: str) -> None:
    def write(self: BlobWriter, chunk: bytes) -> None:
        raise OSError(code, "injected")

    for path, files in (("/api/batch-upload", _files("a.txt")),
                        ("/api/upload", {"file": ("a.txt", b"x")})):
        monkeypatch.setattr(BlobWriter, "write", write)
        _json_error(client.post(path, files=files), status, answer)
        monkeypatch.undo()
        assert _stored_files(settings) == []


def test_uploads_are_refused_before_writing_when_the_disk_is_nearly_full(
        client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.min_free_disk_bytes = 1024**3
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 * 1024**3, 0, 1024**3 - 1))
    r = client.post("/api/upload", files={"file": ("a.txt", b"x")})
    _json_error(r, 507, "insufficient_storage")
    assert "free" in r.json()["message"]
    _json_error(client.post("/api/batch-upload", files=_files("a.txt")), 507,
                "insufficient_storage")
    assert _stored_files(settings) == []
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 * 1024**3, 0, 2 * 1024**3))
    assert client.post("/api/upload", files={"file": ("a.txt", b"x")}).status_code == 202


def test_an_unexpected_error_is_a_json_500_and_logged(
        client: TestClient, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from docflow.api.routers import workers

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the unexpected")

    monkeypatch.setattr(workers, "list_workers", broken)
    r = client.get("/api/workers")
    _json_error(r, 500, "internal_error")
    assert "the unexpected" not in r.text  # no internals in the answer
    assert any("the unexpected" in (rec.exc_text or "") for rec in caplog.records)


def test_a_read_only_data_dir_is_a_json_503(client: TestClient,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from docflow.api.routers import batches

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(batches, "write_with_retry", read_only)
    _json_error(client.post("/api/batches", json={}), 503, "storage_unavailable")


def test_every_answer_a_route_gives_is_in_openapi(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    upload = spec["paths"]["/api/upload"]["post"]["responses"]
    assert {"413", "422", "500", "503", "507"} <= set(upload)
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            assert "500" in op["responses"], f"{method} {path}"


@pytest.mark.parametrize("name", ["%C2%93", "a%00b", "tab%09here", "del%7F"])
def test_a_type_name_must_be_printable(client: TestClient, name: str) -> None:
    _json_error(client.put(f"/api/document-types/{name}", json={}), 422, "invalid_request")


def test_a_json_body_over_the_limit_is_a_413_before_it_is_read(client: TestClient) -> None:
    from docflow.api.limits import MAX_JSON_BODY

    padding = "x" * (MAX_JSON_BODY + 1)
    _json_error(client.post("/api/batches", json={"name": padding}), 413, "too_large")
    _json_error(client.put("/api/document-types/big", json={"description": padding}), 413,
                "too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
        yield b'{"name": "'
        for _ in range(MAX_JSON_BODY // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    r = client.post("/api/batches", content=chunks(),
                    headers={"content-type": "application/json"})
    _json_error(r, 413, "too_large")
    # Only the upload routes stream a multipart body; elsewhere it is held to the same limit.
    r = client.post("/api/batches", content=chunks(),
                    headers={"content-type": "multipart/form-data; boundary=x"})
    _json_error(r, 413, "too_large")


@pytest.mark.parametrize("body", [
    {"fields": [{"name": f"f{n}", "value": "1"} for n in range(1_001)]},
    {"fields": [{"name": "x" * 1_000, "value": "1"}]},
    {"fields": [{"name": "total", "value": "1" * 20_000}]},
    {"doc_type": "x" * 1_000}])
def test_corrections_are_bounded(client: TestClient, body: dict) -> None:
    doc = client.post("/api/upload", files={"file": ("a.txt", b"total 12.50")}).json()
    _json_error(client.patch(f"/api/documents/{doc['document_id']}", json=body), 422)


@pytest.mark.parametrize("body", [
    '{"keywords": {"a": NaN}}', '{"keywords": {"a": Infinity}}',
    '{"rules": [{"kind": "fuzzy", "pattern": "a", "threshold": NaN}]}',
    '{"rules": [{"kind": "fuzzy", "pattern": "a", "threshold": 1000}]}',
    '{"keywords": ["a"], "description": "' + "d" * 20_000 + '"}'])
def test_document_types_refuse_values_that_are_no_numbers_or_too_long(
        client: TestClient, body: str) -> None:
    r = client.put("/api/document-types/odd", content=body,
                   headers={"content-type": "application/json"})
    _json_error(r, 422)


def test_a_form_with_too_many_fields_is_refused(client: TestClient, settings: Settings) -> None:
    fields = {f"field{n}": "v" for n in range(1_000)}
    r = client.post("/api/batch-upload", data=fields, files=_files("a.txt"))
    _json_error(r, 422, "invalid_request")
    assert _stored_files(settings) == []


@pytest.mark.parametrize("url", ["/api/documents?parent_id=%00", "/api/search?q=a&batch_id=a%00",
                                 "/api/documents/a%00b", "/api/batch-status/%00"])
def test_a_nul_in_the_path_or_query_is_a_422(client: TestClient, url: str) -> None:
    _json_error(client.get(url), 422, "invalid_request")


@pytest.mark.postgres
def test_a_nul_in_a_json_value_is_a_422_on_postgres(settings: Settings,
                                                    postgres_url: str) -> None:
    from tests.conftest import empty_postgres

    settings.database_url = postgres_url
    settings.min_free_disk_bytes = 0
    empty_postgres(postgres_url)
    with TestClient(create_app(settings, configure_logs=False),
                    raise_server_exceptions=False) as client:
        doc = client.post("/api/upload", files={"file": ("a.txt", b"total 1")}).json()
        r = client.patch(f"/api/documents/{doc['document_id']}",
                         json={"fields": [{"name": "total", "value": "1\u00002"}]})
        _json_error(r, 422, "invalid_request")
        _json_error(client.post("/api/batches", json={"name": "a\u0000b"}), 422,
                    "invalid_request")


def test_the_original_answers_in_its_own_type_as_documented(client: TestClient,
                                                            settings: Settings) -> None:
    doc = client.post("/api/upload", files={"file": ("a.pdf", b"%PDF-1.4 x")}).json()
    with client.app.state.docflow.store.db.write() as session:
        from docflow.store import Document

        session.get(Document, doc["document_id"]).mime_type = "application/pdf"
    r = client.get(f"/api/documents/{doc['document_id']}/file")
    assert r.headers["content-type"] == "application/pdf"
    op = client.get("/openapi.json").json()["paths"]["/api/documents/{document_id}/file"]["get"]
    assert "*/*" in op["responses"]["200"]["content"] and "410" in op["responses"]


def test_a_part_with_endless_headers_is_refused(client: TestClient, settings: Settings) -> None:
    body = (b"--xyz\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n"
            + b"X-Padding: " + b"p" * 100_000 + b"\r\n\r\nhello\r\n--xyz--\r\n")
    r = client.post("/api/batch-upload", content=body,
                    headers={"content-type": "multipart/form-data; boundary=xyz"})
    _json_error(r, 422, "invalid_request")
    assert _stored_files(settings) == []


def test_an_upload_over_the_limit_is_a_413_even_on_a_nearly_full_disk(
        client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.min_free_disk_bytes = 1024**3
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 * 1024**3, 0, 1024**3 + 1))
    _json_error(client.post("/api/upload", files={"file": ("big", b"x" * 200_000)}), 413,
                "too_large")
