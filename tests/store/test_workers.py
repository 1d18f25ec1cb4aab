"""Workers as their heartbeats describe them, and the cross-host reconciler lock."""

from __future__ import annotations

from datetime import timedelta

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
