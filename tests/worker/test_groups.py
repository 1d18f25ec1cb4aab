"""Several small documents in one task message: each ends as it would have alone. Real SQLite
store, real embedded Valkey (the messages the worker sends are read back from it)."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from docflow.config import Settings
from docflow.store import Document, DocumentStatus, Store
from docflow.store import documents as docs
from docflow.worker import memory
from docflow.worker import runtime as runtime_module
from docflow.worker.celery_app import TASK_PROCESS_DOCUMENT, TASK_PROCESS_DOCUMENTS
from docflow.worker.dispatch import GROUPS, Dispatcher, TaskRef, group_time_limits
from docflow.worker.groups import process_documents
from docflow.worker.tasks import process_document
from tests.conftest import put


@dataclass(frozen=True)
class Message:
    task: str
    args: list[Any]
    retries: int
    eta: str | None
    timelimit: list[float | None]


def _messages(broker: redis.Redis, queue: str) -> list[Message]:
    out = []
    for raw in broker.lrange(queue, 0, -1):
        message = json.loads(raw)
        headers = message["headers"]
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        out.append(Message(headers["task"], args, headers["retries"], headers.get("eta"),
                           headers.get("timelimit")))
    return list(reversed(out))  # kombu pushes on the left: oldest first


def test_small_documents_of_the_default_queue_share_a_message(
        settings: Settings, broker: redis.Redis) -> None:
    settings.documents_per_task, settings.small_document_bytes = 3, 100
    small = [TaskRef(f"s{i}", f"t{i}", size=50) for i in range(7)]
    alone = [TaskRef("big", "t-big", size=101), TaskRef("unknown-size", "t-u"),
             TaskRef("scan", "t-scan", "ocr", size=10),
             TaskRef("long-scan", "t-part", "ocr", part_id="p1", size=10)]
    dispatcher = Dispatcher(settings)
    assert dispatcher.send(small[:4] + alone + small[4:]) == 11
    default = _messages(broker, "default")
    assert [(m.task, m.args) for m in default] == [
        (TASK_PROCESS_DOCUMENTS, [["s0", "s1", "s2"]]),
        (TASK_PROCESS_DOCUMENT, ["big"]), (TASK_PROCESS_DOCUMENT, ["unknown-size"]),
        (TASK_PROCESS_DOCUMENTS, [["s3", "s4", "s5"]]),
        (TASK_PROCESS_DOCUMENT, ["s6"])]  # the last one left over goes alone
    assert [(m.task, m.args) for m in _messages(broker, "ocr")] == [
        ("docflow.process_document", ["scan"]), ("docflow.ocr_part", ["p1"])]
    # Celery's limits for the group are a backstop behind each document's own.
    soft, hard = group_time_limits(settings)
    assert default[0].timelimit == [hard, soft]
    assert hard > settings.task_time_limit and hard < settings.visibility_timeout
    # The reconciler counts each document of a shared message.
    assert sorted(int(n) for n in broker.hvals(GROUPS)) == [3, 3]
    assert dispatcher.pending_messages() == 7 and dispatcher.pending_documents() == 11

    broker.flushall()
    settings.documents_per_task = 1  # the old way: a message per document
    assert Dispatcher(settings).send(small) == 7
    assert [m.args for m in _messages(broker, "default")] == [[r.document_id] for r in small]


def test_notes_of_groups_whose_tasks_never_said_they_ended_are_dropped_once_no_message_is_left(
        settings: Settings, broker: redis.Redis) -> None:
    dispatcher = Dispatcher(settings)
    broker.hset(GROUPS, "a-task-killed-at-its-hard-limit", 16)
    assert dispatcher.pending_documents() == 0 and broker.hlen(GROUPS) == 0


@pytest.fixture
def worker_env(settings: Settings, broker: redis.Redis, monkeypatch: pytest.MonkeyPatch
               ) -> Settings:
    monkeypatch.setenv("DOCFLOW_TASK_SOFT_TIME_LIMIT", "1")
    monkeypatch.setenv("DOCFLOW_TASK_TIME_LIMIT", "600")
    _fresh_runtime(monkeypatch)
    return runtime_module.runtime().settings


def _fresh_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """The task reads its runtime, and its dispatcher, from the environment as it is now."""
    from docflow.worker import results

    runtime_module._current = None
    monkeypatch.setattr(results, "_dispatchers", {})


def _register(store: Store, *files: tuple[bytes, str]) -> list[str]:
    with store.db.write() as session:
        return [d.id for d in docs.register_documents(session, [put(store, c, n)
                                                                 for c, n in files])]


def _get(store: Store, doc_id: str) -> Document:
    with store.db.read() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        return doc


def test_a_group_with_a_bad_a_slow_a_flaky_and_a_scanned_document_ends_each_as_alone(
        store: Store, broker: redis.Redis, worker_env: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from docflow.worker import tasks
    from tests.scans import image_bytes, text_image

    real = tasks.pipeline.process_document
    flaky_calls: list[str] = []

    def reading(data: bytes, filename: str, *args: Any, **kwargs: Any) -> Any:
        if filename == "slow.txt":  # reads until something stops it, however long that is
            while True:
                time.sleep(0.01)
        if filename == "flaky.txt" and not flaky_calls:
            flaky_calls.append(filename)
            raise OSError("disk hiccup")
        return real(data, filename, *args, **kwargs)

    monkeypatch.setattr(tasks.pipeline, "process_document", reading)
    png = image_bytes(text_image(["A photographed note"]), "PNG")
    ids = _register(store, (b"Dear Ann, thank you for the letter. Sincerely, Bo", "first.txt"),
                    (b"", "empty.txt"),
                    (b"A report that takes forever to read", "slow.txt"),
                    (b"Minutes of the meeting of the board", "flaky.txt"),
                    (png, "scan.txt"),  # the name says text; the content says image
                    (b"Invoice 42, total due $12.00 by 1 May", "last.txt"))
    first, empty, slow, flaky, scan, last = ids

    result = process_documents.apply(args=[ids], task_id="group-1")
    assert result.successful(), result.traceback
    # Ended (completed or failed) counts as processed, as in the task of one document.
    assert result.result == "1 moved to the ocr queue, 4 processed, 1 retrying alone"

    for doc_id in (first, last):  # the slow one took its own limit, not theirs
        doc = _get(store, doc_id)
        assert (doc.status, doc.attempts) == (DocumentStatus.COMPLETED, 1)
    assert (_get(store, empty).status, _get(store, empty).error_code) == ("failed", "empty")
    timed_out = _get(store, slow)
    assert (timed_out.status, timed_out.error_code, timed_out.attempts) == ("failed", "timeout",
                                                                            1)
    assert "limit of 1 seconds" in timed_out.error_message
    # The flaky one is given back and sent again alone, as its first retry, after a backoff.
    assert (_get(store, flaky).status, _get(store, flaky).attempts) == ("queued", 1)
    (again,) = _messages(broker, "default")
    assert (again.task, again.args, again.retries) == (TASK_PROCESS_DOCUMENT, [flaky], 1)
    assert again.eta is not None
    # The image goes to the ocr queue, alone, and moving was not an attempt.
    assert (_get(store, scan).status, _get(store, scan).attempts) == ("queued", 0)
    assert [(m.task, m.args) for m in _messages(broker, "ocr")] == [
        (TASK_PROCESS_DOCUMENT, [scan])]

    # Its retry, run as the worker would: it completes as it would have alone.
    assert process_document.apply(args=[flaky], retries=1).successful()
    assert (_get(store, flaky).status, _get(store, flaky).attempts) == ("completed", 2)


def test_a_document_of_a_group_stuck_past_its_hard_limit_is_failed_and_its_process_ended(
        store: Store, broker: redis.Redis, worker_env: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from docflow.worker import tasks

    monkeypatch.setenv("DOCFLOW_TASK_TIME_LIMIT", "2")
    _fresh_runtime(monkeypatch)
    released, exits = threading.Event(), []

    def end_process(code: int) -> None:  # the process would end here; the test lets it go on
        exits.append(code)
        released.set()

    monkeypatch.setattr(memory, "end_process", end_process)
    real = tasks.pipeline.process_document

    def reading(data: bytes, filename: str, *args: Any, **kwargs: Any) -> Any:
        if filename == "stuck.txt":
            released.wait()  # a C call: the soft limit's interruption cannot land in it
        return real(data, filename, *args, **kwargs)

    monkeypatch.setattr(tasks.pipeline, "process_document", reading)
    stuck, after = _register(store, (b"A file a library hangs on", "stuck.txt"),
                             (b"Dear Ann, a short letter. Sincerely, Bo", "after.txt"))
    process_documents.apply(args=[[stuck, after]])
    assert exits == [memory.EXIT_CODE]
    doc = _get(store, stuck)
    assert (doc.status, doc.error_code) == ("failed", "timeout")


def test_a_redelivered_group_skips_what_is_done_and_takes_back_what_a_dead_process_held(
        store: Store, broker: redis.Redis, worker_env: Settings) -> None:
    from sqlalchemy import func, select

    from docflow.worker.runtime import HOSTNAME

    done, held, waiting = _register(store, (b"Dear Ann, first. Sincerely, Bo", "a.txt"),
                                    (b"Dear Ann, second. Sincerely, Bo", "b.txt"),
                                    (b"Dear Ann, third. Sincerely, Bo", "c.txt"))
    process_document.apply(args=[done])
    finished_at = _get(store, done).finished_at
    with store.db.write() as session:  # a process of this host that no longer exists held it
        docs.claim(session, held, worker="w@here", host=HOSTNAME, pid=2**22 + 4321,
                   lease_seconds=600, max_attempts=4, holder_gone=lambda d: False)
    process_documents.apply(args=[[done, held, waiting]])
    assert _get(store, done).finished_at == finished_at  # not processed twice
    assert (_get(store, held).status, _get(store, held).attempts) == ("completed", 2)
    assert (_get(store, waiting).status, _get(store, waiting).attempts) == ("completed", 1)
    with store.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 3


def test_a_group_past_its_budget_sends_the_documents_it_did_not_start_on(
        store: Store, broker: redis.Redis, worker_env: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # No time to spare under the visibility timeout: one document, then the rest go on, so the
    # message is never held long enough for the broker to hand it to a second worker.
    monkeypatch.setenv("DOCFLOW_VISIBILITY_TIMEOUT_SECONDS", "630")
    _fresh_runtime(monkeypatch)
    ids = _register(store, *[(f"Dear Ann, note {i}. Sincerely, Bo".encode(), f"{i}.txt")
                             for i in range(3)])
    assert process_documents.apply(args=[ids]).result == "1 processed, 2 sent on"
    assert [_get(store, d).status for d in ids] == ["completed", "queued", "queued"]
    assert [(m.task, m.args) for m in _messages(broker, "default")] == [
        (TASK_PROCESS_DOCUMENTS, [ids[1:]])]
    assert [int(n) for n in broker.hvals(GROUPS)] == [2]


@pytest.mark.e2e
def test_a_worker_killed_with_a_group_in_flight_ends_every_document_exactly_once(
        settings: Settings, store: Store, broker: redis.Redis, tmp_path: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Real Celery worker (prefork), real SIGKILL while it holds a message of several small
    documents: some done, one being read, some not started."""
    import io
    import os
    import zipfile

    from sqlalchemy import select

    from docflow.observability.counters import shared
    from docflow.worker.reconciler import reconcile
    from tests.worker.test_unacked import FAST, Workers, _online, _wait

    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    settings = Settings(data_dir=settings.data_dir)  # with FAST from the environment
    members = io.BytesIO()
    with zipfile.ZipFile(members, "w") as z:
        z.writestr("a.txt", "Dear Ann, thank you. Sincerely, Bo")
        z.writestr("b.txt", "Invoice number 7, total due $12.00")
    files = [(b"Dear Ann, the first letter. Sincerely, Bo", "first.txt"),
             (members.getvalue(), "bundle.zip"),
             (b"Minutes of the meeting of the board, 3 May.", "minutes.txt"),
             (b"A letter the worker is reading when it is killed.", "in-flight.txt"),
             (b"Invoice 43, total due $99.00 by 1 June", "later.txt"),
             (b"Report of the third quarter: revenue grew.", "last.txt")]
    with store.db.write() as session:
        rows = docs.register_documents(session, [put(store, c, n) for c, n in files])
        refs = [TaskRef(d.id, d.task_id, size=d.size) for d in rows]
        ids = {d.filename: d.id for d in rows}
        in_flight_sha = next(d.sha256 for d in rows if d.filename == "in-flight.txt")
    # Its original is a pipe: the worker's read of it waits until the test writes the bytes,
    # so the worker is killed while it holds that document, whatever the machine's speed.
    original = store.blobs.path(in_flight_sha)
    original.unlink()
    os.mkfifo(original)

    workers = Workers(tmp_path, settings.effective_broker_url() or "")
    try:
        doomed = workers.start("doomed")
        _wait("the worker's heartbeat", lambda: _online(store, "doomed@test"))
        assert Dispatcher(settings).send(refs) == len(refs)
        assert broker.hlen(GROUPS) == 1  # one message for all six

        def status(doc_id: str) -> str:
            return _get(store, doc_id).status

        _wait("the worker reading the fourth document",
              lambda: status(ids["in-flight.txt"]) == DocumentStatus.PROCESSING, timeout=120)
        before = {name: _get(store, ids[name]) for name in ("first.txt", "bundle.zip",
                                                             "minutes.txt")}
        assert {d.status for d in before.values()} == {DocumentStatus.COMPLETED}
        assert status(ids["later.txt"]) == status(ids["last.txt"]) == DocumentStatus.QUEUED
        workers.kill(doomed)
        original.unlink()
        original.write_bytes(files[3][0])

        workers.start("fresh")
        _wait("the second worker's heartbeat", lambda: _online(store, "fresh@test"))
        dispatcher = Dispatcher(settings)

        def all_completed() -> bool:
            reconcile(store, dispatcher, settings)  # gives back what the dead worker held
            with store.db.read() as session:
                statuses = list(session.scalars(select(Document.status)))
            return len(statuses) == 8 and set(statuses) == {DocumentStatus.COMPLETED}

        _wait("every document and both members completed", all_completed, timeout=180)
        _wait("the broker's unacked set drained", lambda: broker.hlen("unacked") == 0)
    finally:
        workers.stop_all()

    with store.db.read() as session:
        every = session.scalars(select(Document)).all()
    children = [d for d in every if d.parent_id == ids["bundle.zip"]]
    assert sorted(c.filename for c in children) == ["a.txt", "b.txt"]  # made once
    for name, doc in before.items():  # done before the kill: not processed again
        assert _get(store, ids[name]).finished_at == doc.finished_at
        assert _get(store, ids[name]).attempts == 1
    assert _get(store, ids["in-flight.txt"]).attempts == 2  # taken back from the dead worker
    assert _get(store, ids["later.txt"]).attempts == _get(store, ids["last.txt"]).attempts == 1
    ended = sum(s.value for s in shared(settings.effective_broker_url()).read()
                if s.metric == "docflow_documents_ended_total"
                and s.labels.get("status") == "completed")
    assert ended == 8  # each document counted once
