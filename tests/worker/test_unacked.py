"""A message a worker had taken when it was killed (prefetched, waiting for a free process) is
put back in its queue by the reconciler at once, not after the broker's visibility timeout.
Real embedded Valkey, real Celery workers (prefork), real SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from docflow.config import Settings
from docflow.store import Document, DocumentStatus, Store, Worker
from docflow.store import documents as docs
from docflow.worker.dispatch import Dispatcher, TaskRef
from docflow.worker.reconciler import reconcile
from docflow.worker.unacked import publish_held, stranded_tags
from tests.conftest import put

VISIBILITY = 3600  # an hour: anything done in this test was not the broker's timeout
FAST = {"DOCFLOW_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY),
        "DOCFLOW_HEARTBEAT_SECONDS": "0.5", "DOCFLOW_WORKER_STALE_SECONDS": "3"}


def _wait(what: str, check: Callable[[], object], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


class Workers:
    def __init__(self, tmp_path: Path, broker_url: str) -> None:
        self.tmp_path, self.broker_url = tmp_path, broker_url
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *extra: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ, DOCFLOW_BROKER_URL=self.broker_url, **FAST)
        log = (self.tmp_path / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "docflow.worker.celery_app", "worker",
             "--hostname", f"{name}@test", "--queues", "default", "--concurrency", "1",
             "--loglevel", "INFO", *extra],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        os.killpg(process.pid, signal.SIGKILL)  # the main process and its pool, outright
        process.wait()

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    self.kill(process)


@pytest.fixture
def celery_workers(tmp_path: Path, settings: Settings, broker: redis.Redis,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[Workers]:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    workers = Workers(tmp_path, settings.effective_broker_url() or "")
    yield workers
    workers.stop_all()


def _online(store: Store, name: str) -> bool:
    with store.db.read() as session:
        row = session.get(Worker, name)
        return row is not None and row.status == "online"


def _status(store: Store, doc_id: str) -> str:
    with store.db.read() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        return doc.status


def test_a_message_prefetched_by_a_killed_worker_is_processed_long_before_the_timeout(
        settings: Settings, store: Store, broker: redis.Redis,
        celery_workers: Workers) -> None:
    settings = Settings(data_dir=settings.data_dir)  # with FAST from the environment
    assert settings.visibility_timeout == VISIBILITY
    with store.db.write() as session:
        first, second = docs.register_documents(session, [
            put(store, b"Dear Ann, thank you for your letter. Sincerely, Bo", "a.txt"),
            put(store, b"Minutes of the meeting of the board, 3 May.", "b.txt")])
        refs = [TaskRef(first.id, first.task_id), TaskRef(second.id, second.task_id)]
    doomed = celery_workers.start("doomed", "--prefetch-multiplier", "2")
    _wait("the first worker's heartbeat", lambda: _online(store, "doomed@test"))

    # Hold the database's write lock: the first task blocks in its claim, so the worker's one
    # process is busy and the second message waits, prefetched, in the worker.
    lock = sqlite3.connect(settings.sqlalchemy_url.removeprefix("sqlite:///"), timeout=30)
    lock.execute("BEGIN IMMEDIATE")
    try:
        assert Dispatcher(settings).send(refs) == 2
        _wait("both messages taken by the worker", lambda: broker.hlen("unacked") == 2)
        assert broker.llen("default") == 0
        celery_workers.kill(doomed)
    finally:
        lock.rollback()
        lock.close()
    assert _status(store, first.id) == _status(store, second.id) == DocumentStatus.QUEUED

    celery_workers.start("fresh")
    _wait("the second worker's heartbeat", lambda: _online(store, "fresh@test"))
    dispatcher = Dispatcher(settings)
    restored = 0

    def finished() -> bool:
        nonlocal restored
        restored += reconcile(store, dispatcher, settings).restored
        return all(_status(store, d) == DocumentStatus.COMPLETED for d in (first.id, second.id))

    started = time.monotonic()
    _wait("both documents completed", finished, timeout=120)
    assert restored == 2 and time.monotonic() - started < VISIBILITY / 10
    # The task acknowledges its message after it returns, so the last ack may follow the
    # document's status by a moment: wait for it rather than assume it came first.
    _wait("the broker's unacked set drained", lambda: broker.hlen("unacked") == 0, timeout=60)


def test_messages_of_a_live_worker_are_never_taken_from_it(broker: redis.Redis) -> None:
    now = time.time()
    broker.zadd("unacked_index", {"held-tag": now - 100, "gone-tag": now - 100,
                                  "new-tag": now - 1})
    publish_held(broker, "alive@test", ["held-tag"], ttl_seconds=30)
    assert stranded_tags(broker, older_than=10, now=now) == ["gone-tag"]
    publish_held(broker, "alive@test", [], ttl_seconds=30)  # it acknowledged its message
    assert sorted(stranded_tags(broker, older_than=10, now=now)) == ["gone-tag", "held-tag"]


def test_a_message_a_live_worker_holds_is_left_with_it(
        settings: Settings, store: Store, broker: redis.Redis,
        celery_workers: Workers) -> None:
    from docflow.worker.celery_app import TASK_PROCESS_DOCUMENT

    settings = Settings(data_dir=settings.data_dir)
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, b"Dear Ann, hello.", "a.txt")])
    celery_workers.start("alive")
    _wait("the worker's heartbeat", lambda: _online(store, "alive@test"))
    dispatcher = Dispatcher(settings)
    app = dispatcher._celery()
    assert app is not None
    # Due in ten minutes: the worker holds the message, unacknowledged, all that time.
    app.send_task(TASK_PROCESS_DOCUMENT, args=[doc.id], task_id=doc.task_id, countdown=600)
    _wait("the worker to take it", lambda: broker.hlen("unacked") == 1)
    (tag,) = broker.hkeys("unacked")
    _wait("the worker to say it holds it",
          lambda: tag in broker.smembers("docflow:held:alive@test"))
    assert dispatcher.restore_stranded(older_than=0) == 0  # however old: its holder is alive
    assert broker.hlen("unacked") == 1 and broker.llen("default") == 0
