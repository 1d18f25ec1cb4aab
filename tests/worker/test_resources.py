"""A worker short of a resource waits for it: a full disk is no fault of the document, so the
document is neither failed as corrupt nor run out of retries, and completes once there is space."""

from __future__ import annotations

import errno

import pytest

from docflow.config import Settings
from docflow.pipeline.errors import CorruptDocument
from docflow.store import Document, DocumentStatus, Store
from docflow.store import documents as docs
from docflow.worker import runtime as runtime_module
from docflow.worker.tasks import process_document
from tests.conftest import put


@pytest.fixture(autouse=True)
def fresh_runtime(settings: Settings) -> None:
    runtime_module._current = None


def _register(store: Store, content: bytes, name: str) -> str:
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, content, name)])
        return doc.id


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_full_disk_makes_the_document_wait_not_fail(
        store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch,
        wrapped: bool) -> None:
    from docflow.worker import tasks

    doc_id = _register(store, b"Dear Ann, thank you for your letter.", "letter.txt")
    full_for = settings.task_max_retries + 5  # longer than any transient error is retried
    real, calls, countdowns = tasks.pipeline.process_document, [], []

    def disk_full(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) <= full_for:
            error = OSError(errno.ENOSPC, "No space left on device")
            if not wrapped:
                raise error
            # A reader that wraps whatever its library raised would call it corrupt.
            raise CorruptDocument("The file could not be read.") from error
        return real(*args, **kwargs)

    real_retry = process_document.retry

    def spy_retry(*args: object, **kwargs: object) -> object:
        countdowns.append(kwargs["countdown"])
        return real_retry(*args, **kwargs)

    monkeypatch.setattr(tasks.pipeline, "process_document", disk_full)
    monkeypatch.setattr(process_document, "retry", spy_retry)
    process_document.apply(args=[doc_id])  # eager: each retry runs at once
    with store.db.read() as session:
        doc = session.get(Document, doc_id)
        assert doc.status == DocumentStatus.COMPLETED and doc.error_code is None
    assert len(countdowns) == full_for
    assert max(countdowns) <= settings.restart_backoff_max_seconds


def test_a_worker_whose_first_heartbeat_fails_keeps_beating() -> None:
    from docflow.worker.heartbeat import Heartbeat

    beat = Heartbeat("w@host", lambda: 1, ["default"])
    beats: list[int] = []

    def full_disk_once() -> None:
        beats.append(1)
        if len(beats) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")

    beat.beat = full_disk_once  # type: ignore[method-assign]
    beat.start()  # used to raise, and the worker ran without a heartbeat thread
    try:
        assert beat._thread.is_alive()
    finally:
        beat._stop.set()
        beat._thread.join(timeout=10)
