"""Workers as their heartbeats describe them, and the cross-host reconciler lock."""

from __future__ import annotations

from datetime import timedelta

import pytest
import typer

from docflow.store import Store, Worker
from docflow.store import workers as w
from docflow.store.models import utcnow


def _beat(store: Store, name: str) -> None:
    with store.db.write() as session:
        w.heartbeat(session, name=name, hostname="h1", pid=10, concurrency=4, queues="default")


def test_a_worker_that_stops_beating_is_lost_and_a_clean_stop_is_stopped(store: Store) -> None:
    for name in ("a@h1", "b@h2", "c@h3"):
        _beat(store, name)
    with store.db.write() as session:
        session.get(Worker, "b@h2").last_heartbeat = utcnow() - timedelta(seconds=120)
        w.mark_stopped(session, "c@h3")
    with store.db.read() as session:
        states = {i.name: i.state for i in w.list_workers(session, stale_after=30)}
        stale = w.stale_worker_names(session, stale_after=30)
    assert states == {"a@h1": "online", "b@h2": "lost", "c@h3": "stopped"}
    assert stale == {"b@h2", "c@h3"}


def test_only_one_holder_of_the_reconciler_lock_at_a_time(store: Store) -> None:
    with store.db.exclusive("docflow.test") as first:
        assert first
        if not store.db.is_sqlite:
            with store.db.exclusive("docflow.test") as second:
                assert not second
    with store.db.exclusive("docflow.test") as again:
        assert again


def test_a_worker_name_is_free_once_its_holder_stopped_or_died(store: Store) -> None:
    import os

    from docflow.cli import _worker_name
    from docflow.config import Settings
    from docflow.worker.runtime import HOSTNAME

    settings = Settings()
    here = HOSTNAME

    def beat(name: str, host: str, pid: int) -> None:
        with store.db.write() as session:
            w.heartbeat(session, name=name, hostname=host, pid=pid, concurrency=1,
                        queues="default")

    assert _worker_name(store, settings, None) == f"docflow@{here}"
    beat(f"docflow@{here}", here, os.getpid())  # a live process on this host
    beat(f"docflow2@{here}", here, 2**22 + 12345)  # a process that no longer exists
    beat(f"docflow3@{here}", "another-host", 1)  # beating from elsewhere: taken
    with store.db.read() as session:
        assert w.live_worker_names(session, 30, this_host=here) == {
            f"docflow@{here}", f"docflow3@{here}"}
    assert _worker_name(store, settings, None) == f"docflow2@{here}"
    assert _worker_name(store, settings, "ocr@%h") == f"ocr@{here}"
    with pytest.raises(typer.Exit) as refused:
        _worker_name(store, settings, "docflow@%h")
    assert refused.value.exit_code == 2
    with store.db.write() as session:
        w.mark_stopped(session, f"docflow@{here}")
    assert _worker_name(store, settings, None) == f"docflow@{here}"


def test_active_tasks_count_the_documents_and_ocr_parts_a_worker_is_running(store: Store) -> None:
    from docflow.store import documents as docs
    from docflow.store.models import Document, DocumentStatus, OcrPart, OcrPartStatus
    from tests.conftest import put

    with store.db.write() as session:
        whole, split, other = docs.register_documents(
            session, [put(store, f"doc {i}".encode(), f"{i}.txt") for i in range(3)])
        for doc in (whole, other):
            docs.claim(session, doc.id, worker="w@h1" if doc is whole else "x@h2", host="h",
                       pid=10, lease_seconds=60, max_attempts=4, holder_gone=lambda d: False)
        # A long scan split into OCR parts (no worker holds the document itself): w@h1 reads
        # one part, the other waits, and one of an earlier attempt was called off.
        split.status, split.ocr_parts, split.attempts = DocumentStatus.PROCESSING, 2, 1
        session.add_all([
            OcrPart(document_id=split.id, attempt=1, first_page=1, last_page=20,
                    status=OcrPartStatus.PROCESSING, worker="w@h1",
                    lease_until=utcnow() + timedelta(seconds=60)),
            OcrPart(document_id=split.id, attempt=1, first_page=21, last_page=40,
                    status=OcrPartStatus.QUEUED),
            OcrPart(document_id=split.id, attempt=0, first_page=1, last_page=40,
                    status=OcrPartStatus.CANCELLED, worker="w@h1")])
    _beat(store, "w@h1")
    _beat(store, "x@h2")
    with store.db.read() as session:
        active = {i.name: i.active_tasks for i in w.list_workers(session, stale_after=30)}
    assert active == {"w@h1": 2, "x@h2": 1}
    # The part is stored and w@h1 let go of finishing the document after a transient error
    # (its name stays, the lease is gone); the whole document is done: w@h1 runs nothing.
    with store.db.write() as session:
        for part in session.query(OcrPart).filter(OcrPart.status == OcrPartStatus.PROCESSING):
            part.status = OcrPartStatus.COMPLETED
        session.get(Document, split.id).worker = "w@h1"
        done = session.get(Document, whole.id)
        done.status, done.lease_until = DocumentStatus.COMPLETED, None
    _beat(store, "w@h1")
    with store.db.read() as session:
        assert {i.name: i.active_tasks for i in w.list_workers(session, 30)}["w@h1"] == 0
