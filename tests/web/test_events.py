"""Live progress over Server-Sent Events, served by the real app on uvicorn from the database:
events arrive as documents finish, a reconnection resumes where it stopped, and two API
processes on one database both see every event."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from docflow.config import Settings
from docflow.store import Document, DocumentStatus, Store, open_store
from docflow.store.models import utcnow
from tests.web.live import EventReader, Server


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    settings.events_poll_seconds = 0.1
    # Above the test's own commit time (milliseconds), as the default is above a worker's.
    settings.events_settle_seconds = 0.5
    return settings


@pytest.fixture
def server(live_settings: Settings) -> Iterator[Server]:
    s = Server(live_settings)
    yield s
    s.stop()


@pytest.fixture
def db(live_settings: Settings) -> Iterator[Store]:
    s = open_store(live_settings, migrate=True)
    yield s
    s.db.dispose()


def _upload(server: Server, *names: str) -> tuple[str, list[str]]:
    import httpx

    files = [("files", (n, f"text of {n}".encode(), "text/plain")) for n in names]
    r = httpx.post(f"{server.url}/api/batch-upload", files=files, timeout=30)
    assert r.status_code == 202, r.text
    body = r.json()
    return body["batch_id"], [d["document_id"] for d in body["documents"]]


def _finish(store: Store, doc_id: str, status: str = DocumentStatus.COMPLETED,
            code: str | None = None) -> None:
    """What a worker's result transaction leaves behind (the broker is not running here)."""
    with store.db.write() as session:
        session.execute(update(Document).where(Document.id == doc_id).values(
            status=status, finished_at=utcnow(), error_code=code,
            error_message=f"it failed: {code}" if code else None))


def test_a_batch_page_sees_counters_and_each_document_end_without_polling(
        server: Server, db: Store) -> None:
    batch_id, (a, b, c) = _upload(server, "a.txt", "b.txt", "c.txt")
    reader = EventReader(f"{server.url}/api/batches/{batch_id}/events")
    try:
        assert reader.response is not None
        assert reader.response.headers["content-type"].startswith("text/event-stream")
        first = json.loads(reader.next("progress")["data"])
        assert (first["total"], first["queued"], first["completed"]) == (3, 3, 0)

        _finish(db, a)
        _finish(db, b, DocumentStatus.FAILED, "corrupt")
        ends = [json.loads(reader.next("document")["data"]) for _ in range(2)]
        assert {(e["id"], e["status"]) for e in ends} == {(a, "completed"), (b, "failed")}
        failed = next(e for e in ends if e["id"] == b)
        assert failed["error"] == {"code": "corrupt", "message": "it failed: corrupt"}
        while True:  # counters follow, at most one event per poll
            progress = json.loads(reader.next("progress")["data"])
            if progress["completed"] + progress["failed"] == 2:
                break
        assert (progress["completed"], progress["failed"], progress["queued"]) == (1, 1, 1)
        assert progress["progress_percent"] == pytest.approx(66.67)

        _finish(db, c)
        assert json.loads(reader.next("document")["data"])["id"] == c
        assert json.loads(reader.next("progress")["data"])["done"] is True
    finally:
        reader.close()


def test_the_overall_stream_sends_every_documents_counters_when_they_change(
        server: Server, db: Store) -> None:
    _upload(server, "a.txt", "b.txt")
    _, (c, d) = _upload(server, "c.txt", "d.txt")
    reader = EventReader(f"{server.url}/api/events")
    try:
        first = json.loads(reader.next("progress")["data"])
        assert first == {"total": 4, "queued": 4, "processing": 0, "completed": 0, "failed": 0,
                         "cancelled": 0, "progress_percent": 0.0, "done": False}
        _finish(db, c)
        _finish(db, d, DocumentStatus.FAILED, "corrupt")
        while True:  # at most one event per poll: the two changes may come in one or two
            progress = json.loads(reader.next("progress")["data"])
            if progress["completed"] + progress["failed"] == 2:
                break
        assert (progress["queued"], progress["completed"], progress["failed"]) == (2, 1, 1)
        assert (progress["progress_percent"], progress["done"]) == (50.0, False)
        assert not [e for e in reader.pending() if e.get("event") == "progress"]  # no repeats
    finally:
        reader.close()
    # A client without a stream gets the counters too.
    import httpx

    r = httpx.get(f"{server.url}/api/events", timeout=10)
    frames = [line for line in r.text.splitlines() if line.startswith("event: ")]
    assert frames == ["event: progress"]
    assert '"total":4' in r.text


def test_a_reconnection_with_last_event_id_resumes_without_loss_or_repeats(
        server: Server, db: Store) -> None:
    _, ids = _upload(server, *(f"{n}.txt" for n in range(7)))
    reader = EventReader(f"{server.url}/api/events")
    try:
        for doc_id in ids[:3]:
            _finish(db, doc_id)
        seen = [reader.next("document") for _ in range(3)]
    finally:
        reader.close()
    assert [json.loads(e["data"])["id"] for e in seen] == ids[:3]
    # Gone for a while: three more finish meanwhile; the client resumes after the second event.
    for doc_id in ids[3:6]:
        _finish(db, doc_id)
    resumed = EventReader(f"{server.url}/api/events", {"Last-Event-ID": seen[1]["id"]})
    try:
        again = [json.loads(resumed.next("document")["data"])["id"] for _ in range(4)]
        assert again == ids[2:6]
        _finish(db, ids[6])  # the next event is the next document: nothing came twice
        assert json.loads(resumed.next("document")["data"])["id"] == ids[6]
    finally:
        resumed.close()


def test_two_api_processes_on_one_database_both_see_every_event(
        server: Server, live_settings: Settings, db: Store) -> None:
    other = Server(live_settings)
    readers = []
    try:
        batch_id, (doc_id,) = _upload(server, "one.txt")
        readers = [EventReader(f"{s.url}/api/batches/{batch_id}/events") for s in (server, other)]
        readers += [EventReader(f"{s.url}/api/events") for s in (server, other)]
        for r in readers[:2]:
            r.next("progress")
        _finish(db, doc_id)
        for r in readers:
            assert json.loads(r.next("document")["data"])["id"] == doc_id
    finally:
        for r in readers:
            r.close()
        other.stop()


def test_an_unknown_batch_or_a_foreign_event_id_is_refused(server: Server) -> None:
    import httpx

    r = httpx.get(f"{server.url}/api/batches/nope/events", timeout=10)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = httpx.get(f"{server.url}/api/events", headers={"Last-Event-ID": "yesterday"}, timeout=10)
    assert r.status_code == 422 and r.json()["code"] == "invalid_cursor"


def test_a_client_that_asks_for_no_stream_gets_what_is_there_and_the_end(
        server: Server, db: Store) -> None:
    import httpx

    batch_id, ids = _upload(server, "x.txt", "y.txt")
    for doc_id in ids:
        _finish(db, doc_id)
    start = "0-0"  # before every document
    deadline = time.monotonic() + 30
    while True:  # the settle time passes
        r = httpx.get(f"{server.url}/api/batches/{batch_id}/events",
                      headers={"Last-Event-ID": start}, timeout=10)
        documents = [json.loads(line[6:]) for line in r.text.splitlines()
                     if line.startswith("data: ") and '"finished_at"' in line]
        if len(documents) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.headers["content-type"].startswith("text/event-stream")
    assert sorted(d["id"] for d in documents) == sorted(ids)
    assert "event: progress" in r.text


def test_many_browsers_on_one_batch_share_one_poll_that_counts_no_document(
        server: Server, db: Store) -> None:
    from sqlalchemy import event

    batch_id, (a, _b, _c) = _upload(server, "a.txt", "b.txt", "c.txt")
    app = server.server.config.app
    engine = app.state.docflow.store.db.engine
    readers = [EventReader(f"{server.url}/api/batches/{batch_id}/events") for _ in range(20)]
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    try:
        for r in readers:
            r.next("progress")
        (poller,) = app.state.event_hub.pollers.values()
        assert poller.listeners == 20
        event.listen(engine, "before_cursor_execute", capture)
        _finish(db, a)
        for r in readers:
            assert json.loads(r.next("progress")["data"])["completed"] == 1
        deadline = time.monotonic() + 30
        while sum("finished_at" in s for s in statements) < 3:  # three polls at least
            assert time.monotonic() < deadline, statements
            time.sleep(0.05)
        event.remove(engine, "before_cursor_execute", capture)
    finally:
        for r in readers:
            r.close()
    polls = sum("finished_at" in s for s in list(statements))
    counter_reads = sum("document_counts" in s for s in statements)
    # One read of the batch's counters per poll, not one per browser, and no document counted.
    assert 1 <= counter_reads <= polls + 1
    assert not [s for s in statements if "count(" in s.lower()]
