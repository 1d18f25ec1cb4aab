"""The endpoints the web app added: overview, the batch list, a batch's failures (grouped,
exported, retried) and trying a rule, on the real app and a real SQLite store."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from docflow.api.app import create_app
from docflow.config import Settings
from docflow.store import Document, DocumentStatus
from docflow.store.models import Extraction, utcnow


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, configure_logs=False)) as c:
        yield c


def _batch(client: TestClient, *names: str) -> tuple[str, list[str]]:
    files = [("files", (n, f"text of {n}".encode(), "text/plain")) for n in names]
    body = client.post("/api/batch-upload", files=files).json()
    return body["batch_id"], [d["document_id"] for d in body["documents"]]


def _end(client: TestClient, doc_id: str, status: str, code: str | None = None,
         pages: int | None = None) -> None:
    db = client.app.state.docflow.store.db  # type: ignore[attr-defined]
    with db.write() as session:
        session.execute(update(Document).where(Document.id == doc_id).values(
            status=status, error_code=code, error_message=f"because {code}" if code else None,
            finished_at=utcnow(), page_count=pages, attempts=3))


def test_overview_counts_statuses_throughput_and_recent_failures(client: TestClient) -> None:
    _, (a, b, c, _d) = _batch(client, "a.txt", "b.txt", "c.txt", "d.txt")
    _end(client, a, DocumentStatus.COMPLETED, pages=3)
    _end(client, b, DocumentStatus.COMPLETED, pages=2)
    _end(client, c, DocumentStatus.FAILED, "corrupt")
    o = client.get("/api/overview").json()
    assert o["total"] == 4
    assert o["statuses"] == {"queued": 1, "processing": 0, "completed": 2, "failed": 1,
                             "cancelled": 0}
    assert o["throughput"] == {"window_minutes": 10, "documents_per_minute": 0.2,
                               "pages_per_minute": 0.5}
    assert o["eta_seconds"] == 300.0  # one waiting at 0.2 a minute
    assert o["failures_last_hour"] == [{"code": "corrupt", "count": 1,
                                        "message": "because corrupt"}]
    assert o["workers"]["online"] == 0


def test_batches_are_listed_newest_first_with_progress(client: TestClient) -> None:
    first, (doc,) = _batch(client, "one.txt")
    second, _ = _batch(client, "two.txt", "three.txt")
    _end(client, doc, DocumentStatus.COMPLETED)
    page = client.get("/api/batches", params={"limit": 10, "count": True}).json()
    assert page["total"] == 2
    assert [b["batch_id"] for b in page["batches"]] == [second, first]
    assert page["batches"][1]["progress"]["progress_percent"] == 100.0


def test_failures_are_grouped_exported_and_only_retryable_ones_retried(
        client: TestClient) -> None:
    batch, (a, b, c, ok) = _batch(client, "dir/a.txt", "b.txt", "c.txt", "ok.txt")
    _end(client, a, DocumentStatus.FAILED, "transient_error")
    _end(client, b, DocumentStatus.FAILED, "transient_error")
    _end(client, c, DocumentStatus.FAILED, "corrupt")
    _end(client, ok, DocumentStatus.COMPLETED)
    groups = client.get(f"/api/batches/{batch}/failures").json()
    assert groups["failed"] == 3
    assert [(g["code"], g["count"], g["retryable"]) for g in groups["groups"]] == [
        ("transient_error", 2, True), ("corrupt", 1, False)]

    exported = client.get(f"/api/batches/{batch}/failures/export", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["id"] for r in rows) == sorted([a, b, c])
    assert {r["source_path"] for r in rows} == {"dir/a.txt", "b.txt", "c.txt"}
    as_json = client.get(f"/api/batches/{batch}/failures/export", params={"format": "json"})
    assert sorted(r["error_code"] for r in as_json.json()) == ["corrupt", "transient_error",
                                                               "transient_error"]

    retried = client.post(f"/api/batches/{batch}/retry").json()
    assert retried["retried"] == 2
    for doc_id, expected in ((a, "queued"), (b, "queued"), (c, "failed"), (ok, "completed")):
        doc = client.get(f"/api/documents/{doc_id}").json()
        assert doc["status"] == expected, doc_id
        if expected == "queued":
            assert doc["error"] is None and doc["attempts"] == 0 and doc["finished_at"] is None
    assert client.post(f"/api/batches/{batch}/retry").json()["retried"] == 0
    assert client.post("/api/batches/nope/retry").status_code == 404


def test_a_rule_is_tried_against_a_documents_text(client: TestClient) -> None:
    _, (doc_id,) = _batch(client, "inv.txt")
    db = client.app.state.docflow.store.db  # type: ignore[attr-defined]
    with db.write() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        session.merge(Extraction(sha256=doc.sha256, format="text", mime_type="text/plain",
                                 text="Invoice INV-2041 due soon", pages=[], page_count=1))
    _end(client, doc_id, DocumentStatus.COMPLETED)
    r = client.post("/api/document-types/test-rule", json={
        "rule": {"kind": "regex", "pattern": r"INV-\d{4}"}, "document_id": doc_id})
    assert r.json() == {"matched": True, "text_chars": 25}
    r = client.post("/api/document-types/test-rule", json={
        "rule": {"kind": "phrase", "pattern": "purchase order"}, "document_id": doc_id})
    assert r.json()["matched"] is False
    r = client.post("/api/document-types/test-rule", json={
        "rule": {"kind": "regex", "pattern": "("}, "text": "x"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_rule"


def test_an_original_is_shown_inline_only_when_asked_and_safe(client: TestClient) -> None:
    txt = client.post("/api/upload", files={"file": ("a.txt", b"hi", "text/plain")}).json()
    html = client.post("/api/upload", files={"file": ("a.html", b"<script>x</script>",
                                                      "text/html")}).json()
    db = client.app.state.docflow.store.db  # type: ignore[attr-defined]
    with db.write() as session:
        session.execute(update(Document).where(Document.id == txt["document_id"])
                        .values(mime_type="text/plain"))
        session.execute(update(Document).where(Document.id == html["document_id"])
                        .values(mime_type="text/html"))
    shown = client.get(f"/api/documents/{txt['document_id']}/file", params={"inline": "true"})
    assert shown.headers["content-disposition"].startswith("inline")
    assert shown.headers["x-content-type-options"] == "nosniff"
    kept = client.get(f"/api/documents/{html['document_id']}/file", params={"inline": "true"})
    assert kept.headers["content-disposition"].startswith("attachment")
    plain = client.get(f"/api/documents/{txt['document_id']}/file")
    assert plain.headers["content-disposition"].startswith("attachment")
