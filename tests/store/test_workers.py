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
