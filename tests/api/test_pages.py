"""Paging by cursor through the real ASGI app on a real SQLite store: every document once, in
a stable order, with every filter and order; cursors refused (422 JSON, never 500) when made for
another listing, order or filters, or not made by the server at all."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update

from docflow.api.app import create_app
from docflow.config import Settings
from docflow.store import Batch, Document, DocumentStatus
from docflow.store.models import utcnow


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, configure_logs=False)) as c:
        yield c


def _upload(client: TestClient, folder: str, count: int) -> list[str]:
    """A batch of `count` files: registered together, so they share one created_at (the
    cursor's id part must order them)."""
    files = [("files", (f"{folder}/f{i:02d}.txt", f"{folder} {i}".encode(), "text/plain"))
             for i in range(count)]
    reply = client.post("/api/batch-upload", files=files)
    assert reply.status_code == 202, reply.text
    return [d["document_id"] for d in reply.json()["documents"]]


@pytest.fixture
def collection(client: TestClient) -> list[str]:
    """23 documents in three batches; some failed, some to review, some with warnings."""
    ids = _upload(client, "2019", 10) + _upload(client, "2020", 8) + _upload(client, "misc", 5)
    db = client.app.state.docflow.store.db  # type: ignore[attr-defined]
    with db.write() as session:
        for n, doc_id in enumerate(ids):
            values: dict[str, Any] = {"status": DocumentStatus.COMPLETED, "finished_at": utcnow(),
                                      "doc_type": ("invoice", "letter")[n % 2],
                                      "needs_review": n % 3 == 0}
            if n % 5 == 1:
                values.update(status=DocumentStatus.FAILED, error_code="corrupt",
                              error_message="broken", doc_type=None, needs_review=False)
            elif n % 4 == 2:
                values.update(warnings=[{"code": "no_text", "message": "none"}],
                              warning_codes="no_text")
            session.execute(update(Document).where(Document.id == doc_id).values(**values))
    return ids


def _walk(client: TestClient, url: str, items: str = "documents", limit: int = 4,
          **params: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every page from the first by next_cursor, then back from the last by prev_cursor."""
    pages, reply = [], client.get(url, params={**params, "limit": limit})
    while True:
        assert reply.status_code == 200, reply.text
        page = reply.json()
        pages.append(page)
        if page["next_cursor"] is None:
            break
        reply = client.get(url, params={**params, "limit": limit, "cursor": page["next_cursor"]})
    forward = [row for p in pages for row in p[items]]
    back = [pages[-1]]
    while back[0]["prev_cursor"] is not None:
        reply = client.get(url, params={**params, "limit": limit, "cursor": back[0]["prev_cursor"]})
        assert reply.status_code == 200, reply.text
        back.insert(0, reply.json())
    assert [[r for r in p[items]] for p in back] == [p[items] for p in pages]
    return forward, [row for p in back for row in p[items]]


def _expected(client: TestClient, order: str, **where: Any) -> list[str]:
    db = client.app.state.docflow.store.db  # type: ignore[attr-defined]
    with db.read() as session:
        docs = session.scalars(select(Document).where(
            *(getattr(Document, k) == v for k, v in where.items()))).all()
    if order == "path":
        return [d.id for d in sorted(docs, key=lambda d: (d.source_path, d.id))]
    ordered = sorted(docs, key=lambda d: (d.created_at, d.id))
    return [d.id for d in (ordered if order == "oldest" else ordered[::-1])]


@pytest.mark.parametrize("order", ["oldest", "newest", "path"])
@pytest.mark.parametrize("filters, where", [
    ({}, {}),
    ({"status": "failed"}, {"status": "failed"}),
    ({"status": "completed", "needs_review": "true"}, {"status": "completed",
                                                        "needs_review": True}),
    ({"doc_type": "letter"}, {"doc_type": "letter"}),
    ({"warning": "no_text"}, {"warning_codes": "no_text"}),
])
def test_walking_by_cursor_lists_every_document_once_in_a_stable_order(
        client: TestClient, collection: list[str], order: str, filters: dict[str, str],
        where: dict[str, Any]) -> None:
    forward, back = _walk(client, "/api/documents", order=order, **filters)
    ids = [d["id"] for d in forward]
    assert ids == _expected(client, order, **where) and len(set(ids)) == len(ids)
    assert [d["id"] for d in back] == ids
    assert ids, "each filter matches some of the collection"


def test_a_batch_and_a_folder_walk_by_cursor_too(client: TestClient,
                                                 collection: list[str]) -> None:
    batch = client.get(f"/api/documents/{collection[12]}").json()["batch_id"]
    forward, _ = _walk(client, "/api/documents", limit=3, batch_id=batch)
    assert [d["id"] for d in forward] == _expected(client, "oldest", batch_id=batch)
    assert set(collection[10:18]) == {d["id"] for d in forward}
    forward, _ = _walk(client, "/api/documents", limit=3, order="path", path_prefix="2019/")
    assert [d["source_path"] for d in forward] == [f"2019/f{i:02d}.txt" for i in range(10)]


def test_no_count_unless_asked(client: TestClient, collection: list[str]) -> None:
    page = client.get("/api/documents", params={"limit": 5}).json()
    assert page["total"] is None and len(page["documents"]) == 5 and page["next_cursor"]
    assert page["prev_cursor"] is None
    counted = client.get("/api/documents", params={"limit": 5, "status": "failed",
                                                   "count": "true"}).json()
    assert counted["total"] == sum(1 for n in range(23) if n % 5 == 1)
    last = client.get("/api/documents", params={"limit": 100}).json()
    assert len(last["documents"]) == 23 and last["next_cursor"] is None


def test_offset_still_pages_and_hands_over_to_cursors(client: TestClient,
                                                      collection: list[str]) -> None:
    everything = _expected(client, "oldest")
    page = client.get("/api/documents", params={"limit": 5, "offset": 5}).json()
    assert [d["id"] for d in page["documents"]] == everything[5:10]
    after = client.get("/api/documents", params={"limit": 5,
                                                 "cursor": page["next_cursor"]}).json()
    before = client.get("/api/documents", params={"limit": 5,
                                                  "cursor": page["prev_cursor"]}).json()
    assert [d["id"] for d in after["documents"]] == everything[10:15]
    assert [d["id"] for d in before["documents"]] == everything[0:5]


def _error(reply: Any, code: str) -> str:
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["code"] == code and body["message"], body
    return str(body["message"])


def test_a_cursor_made_for_another_order_filter_or_listing_is_refused(
        client: TestClient, collection: list[str]) -> None:
    cursor = client.get("/api/documents", params={"limit": 2}).json()["next_cursor"]
    message = _error(client.get("/api/documents", params={"cursor": cursor, "order": "newest"}),
                     "cursor_mismatch")
    assert "order=oldest" in message
    _error(client.get("/api/documents", params={"cursor": cursor, "status": "failed"}),
           "cursor_mismatch")
    failed = client.get("/api/documents", params={"limit": 1, "status": "failed"}).json()
    _error(client.get("/api/documents", params={"cursor": failed["next_cursor"]}),
           "cursor_mismatch")
    _error(client.get("/api/documents", params={"cursor": failed["next_cursor"],
                                                "status": "completed"}), "cursor_mismatch")
    batches = client.get("/api/batches", params={"limit": 1}).json()["next_cursor"]
    _error(client.get("/api/documents", params={"cursor": batches}), "cursor_mismatch")
    _error(client.get("/api/batches", params={"cursor": cursor}), "cursor_mismatch")
    _error(client.get("/api/documents", params={"cursor": cursor, "offset": 3}),
           "cursor_with_offset")


def _forged(payload: Any) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _real_payload(client: TestClient) -> dict[str, Any]:
    cursor = client.get("/api/documents", params={"limit": 2}).json()["next_cursor"]
    return dict(json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))))


@pytest.mark.parametrize("tamper", [
    lambda p: "garbage!",
    lambda p: "%00",
    lambda p: "a",
    lambda p: "A" * 5000,
    lambda p: _forged(b"\xff\xfe not json"),
    lambda p: _forged(b"[" * 3000),
    lambda p: _forged([1, 2]),
    lambda p: _forged({**p, "v": 99}),
    lambda p: _forged({**p, "d": "sideways"}),
    lambda p: _forged({**p, "k": "2024"}),
    lambda p: _forged({**p, "k": [p["k"][0]]}),
    lambda p: _forged({**p, "k": [p["k"][0], p["k"][1], "x"]}),
    lambda p: _forged({**p, "k": [12, p["k"][1]]}),
    lambda p: _forged({**p, "k": [p["k"][0], None]}),
    lambda p: _forged({**p, "k": [p["k"][0], {"$gt": ""}]}),
    lambda p: _forged({**p, "k": ["yesterday", p["k"][1]]}),
    lambda p: _forged({**p, "k": ["2024-03-01T00:00:00", p["k"][1]]}),  # no zone
    lambda p: _forged({**p, "k": ["0001-01-01T00:00:00+14:00", p["k"][1]]}),  # before year 1
    lambda p: _forged({**p, "k": [p["k"][0], "\ud800"]}),
    lambda p: _forged({**p, "k": [p["k"][0], "a\x00b"]}),
    lambda p: _forged({**p, "k": [p["k"][0], "x" * 5000]}),
], ids=lambda f: "")
def test_a_tampered_cursor_is_a_422_never_a_500(client: TestClient, collection: list[str],
                                                tamper: Any) -> None:
    reply = client.get("/api/documents", params={"cursor": tamper(_real_payload(client))})
    assert reply.status_code == 422, reply.text
    assert reply.json()["code"] in ("invalid_cursor", "invalid_request"), reply.json()


def test_a_forged_but_well_formed_position_only_moves_the_start(
        client: TestClient, collection: list[str]) -> None:
    """Nothing in a cursor is secret: a made-up key pages from there, within the filters."""
    payload = _real_payload(client)
    payload["k"] = ["1999-01-01T00:00:00+00:00", ""]
    page = client.get("/api/documents", params={"cursor": _forged(payload), "limit": 3}).json()
    assert [d["id"] for d in page["documents"]] == _expected(client, "oldest")[:3]


def test_batches_walk_newest_first_by_cursor(client: TestClient,
                                             collection: list[str]) -> None:
    for n in range(4):
        client.post("/api/batches", json={"name": f"empty {n}"})
    forward, back = _walk(client, "/api/batches", items="batches", limit=2)
    db = client.app.state.docflow.store.db  # type: ignore[attr-defined]
    with db.read() as session:
        expected = [b.id for b in sorted(session.scalars(select(Batch)).all(),
                                         key=lambda b: (b.created_at, b.id), reverse=True)]
    assert [b["batch_id"] for b in forward] == expected and len(expected) == 7
    assert back == forward
    assert client.get("/api/batches").json()["total"] is None
    assert client.get("/api/batches", params={"count": "true"}).json()["total"] == 7


def test_a_page_of_batches_reads_all_their_counters_in_one_query(
        client: TestClient, collection: list[str]) -> None:
    for n in range(5):
        client.post("/api/batches", json={"name": f"empty {n}"})
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = client.app.state.docflow.store.db.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", capture)
    try:
        page = client.get("/api/batches", params={"limit": 8}).json()["batches"]
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(page) == 8
    assert len([s for s in statements if "document_counts" in s]) == 1, statements
    by_id = {b["batch_id"]: b["progress"] for b in page}
    for batch in by_id:  # the same progress as the batch's own status
        assert client.get(f"/api/batch-status/{batch}").json() == by_id[batch]
    assert sorted(b["total"] for b in by_id.values()) == [0] * 5 + [5, 8, 10]


def test_the_failure_export_streams_every_failure_page_by_page(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from docflow.api.routers import failures

    monkeypatch.setattr(failures, "EXPORT_PAGE", 2)
    ids = _upload(client, "x", 7)
    db = client.app.state.docflow.store.db  # type: ignore[attr-defined]
    with db.write() as session:
        session.execute(update(Document).where(Document.id.in_(ids[:5])).values(
            status=DocumentStatus.FAILED, error_code="corrupt", error_message="broken"))
    batch = client.get(f"/api/documents/{ids[0]}").json()["batch_id"]
    exported = client.get(f"/api/batches/{batch}/failures/export", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    failed = _expected(client, "oldest", batch_id=batch, status="failed")
    assert [r["id"] for r in rows] == failed and set(failed) == set(ids[:5])
    as_json = client.get(f"/api/batches/{batch}/failures/export", params={"format": "json"})
    assert [r["id"] for r in as_json.json()] == failed


def test_the_openapi_documents_cursors_orders_and_counts(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, fields in (("/api/documents", ("cursor", "order", "count", "offset")),
                         ("/api/batches", ("cursor", "count", "offset"))):
        params = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        for name in fields:
            assert params[name].get("description"), (path, name)
        assert "cursor" in params["offset"]["description"]
    for schema in ("DocumentList", "BatchList"):
        props = spec["components"]["schemas"][schema]["properties"]
        for name in ("next_cursor", "prev_cursor", "total"):
            assert props[name].get("description"), (schema, name)
