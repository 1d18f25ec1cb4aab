"""Leases: one thread per worker process renews every lease the process holds, and a lease
that is no longer ours stops only its own work."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

import pytest

from docflow.config import Settings
from docflow.store import Document, Store
from docflow.store import documents as docs
from docflow.worker import runtime as runtime_module
from docflow.worker.leases import LeaseKeeper
from docflow.worker.runtime import runtime
from tests.conftest import put


@pytest.fixture(autouse=True)
def short_leases(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCFLOW_LEASE_SECONDS", "3")  # renewed every second
    runtime_module._current = None


def _claimed(store: Store, n: int) -> list[tuple[str, int]]:
    held = []
    with store.db.write() as session:
        rows = docs.register_documents(session, [put(store, f"note {i}".encode(), f"{i}.txt")
                                                 for i in range(n)])
        for row in rows:
            claim = docs.claim(session, row.id, worker="w", host="h", pid=1, lease_seconds=3,
                               max_attempts=4, holder_gone=lambda d: False)
            held.append((row.id, claim.attempt))
    return held


def _lease_until(store: Store, doc_id: str) -> datetime:
    with store.db.read() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None and doc.lease_until is not None
        return doc.lease_until


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _keepers() -> int:
    return sum(t.name == "lease-keeper" for t in threading.enumerate())


def test_one_thread_renews_every_lease_and_a_lost_one_stops_only_its_work(
        store: Store) -> None:
    rt = runtime()
    held = _claimed(store, 3)
    first = {doc_id: _lease_until(store, doc_id) for doc_id, _ in held}
    lost: list[str] = []
    before = _keepers()
    keepers = [LeaseKeeper(rt, lambda session, seconds, d=doc_id, a=attempt: docs.renew_lease(
        session, d, a, seconds), f"document {doc_id}", on_lost=lambda d=doc_id: lost.append(d))
        for doc_id, attempt in held]
    for keeper in keepers:
        keeper.__enter__()
    try:
        assert _keepers() - before <= 1
        _wait_for(lambda: all(_lease_until(store, d) > first[d] for d in first),
                  "every lease renewed")
        taken_id = held[0][0]
        with store.db.write() as session:  # another worker takes the first one over
            doc = session.get(Document, taken_id)
            assert doc is not None
            doc.attempts += 1
        _wait_for(lambda: lost == [taken_id], "the lost lease noticed")
        renewed = {d: _lease_until(store, d) for d, _ in held[1:]}
        _wait_for(lambda: all(_lease_until(store, d) > renewed[d] for d in renewed),
                  "the others still renewed")
        assert lost == [taken_id]
    finally:
        for keeper in keepers:
            keeper.__exit__(None, None, None)
