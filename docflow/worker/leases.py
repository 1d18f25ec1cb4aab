"""Leases while a task works: renewed by one background thread per process, and a dead holder
recognised."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import psutil
from celery import Task
from sqlalchemy.orm import Session

from docflow.store.models import utcnow
from docflow.store.ocr_parts import Holder
from docflow.store.workers import stale_worker_names
from docflow.worker.runtime import HOSTNAME, Runtime

log = logging.getLogger(__name__)


def look_again_later(task: Task, key: str, lease_until: datetime | None,
                     why: str = "it is held by a live worker (a redelivered or repeated "
                     "message)") -> None:
    """Another live worker holds the lease (or, for a document, its twin's): send this task
    again for when that lease would have run out."""
    assert lease_until is not None
    wait = max(1.0, (lease_until - utcnow()).total_seconds() + 1)
    log.info("%s: %s; looking again in %.0fs", key, why, wait)
    task.apply_async(args=[key], task_id=task.request.id, countdown=wait)


@dataclass(eq=False)
class _Lease:
    renew: Callable[[Session, float], bool]
    what: str
    on_lost: Callable[[], None] | None
    due: float  # time.monotonic() of its next renewal
    active: bool = True


class _ProcessLeases:
    """The one thread of a process that renews every lease the process holds.

    Started with the first lease; renews all leases that are due in one write transaction, a
    third of the lease's length after their claim or last renewal. A thread per task cost more
    than a small document's work.
    """

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._leases: list[_Lease] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._wakes_at = 0.0  # time.monotonic() the thread looks again by itself

    @property
    def held(self) -> int:
        with self._changed:
            return len(self._leases)

    def hold(self, lease: _Lease) -> None:
        with self._changed:
            self._leases.append(lease)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lease-keeper",
                                                daemon=True)
                self._thread.start()
            if lease.due < self._wakes_at:
                # Woken only when it would look too late: a wake-up per document (a group's
                # documents hold a lease each, one after the other) costs a thread switch.
                self._changed.notify()

    def drop(self, lease: _Lease) -> None:
        with self._changed:
            lease.active = False
            if lease in self._leases:
                self._leases.remove(lease)

    def _run(self) -> None:
        seconds = self._rt.settings.lease_seconds
        while True:
            with self._changed:
                now = time.monotonic()
                due = [lease for lease in self._leases if lease.due <= now]
                if not due:
                    wait = min((lease.due for lease in self._leases), default=now + seconds)
                    self._wakes_at = wait
                    self._changed.wait(max(0.01, wait - now))
                    self._wakes_at = 0.0  # awake: it looks at every lease before waiting
                    continue
            self._renew(due, seconds)

    def _renew(self, due: list[_Lease], seconds: float) -> None:
        try:
            with self._rt.store.db.write() as session:
                renewed = [lease.renew(session, seconds) for lease in due]
        except Exception:  # a missed renewal is retried; the lease has slack for two
            log.warning("could not renew the leases of %s", ", ".join(x.what for x in due),
                        exc_info=True)
            renewed = [True] * len(due)
        lost = []
        with self._changed:
            next_due = time.monotonic() + seconds / 3
            for lease, ok in zip(due, renewed, strict=True):
                lease.due = next_due
                if not ok and lease.active:
                    lease.active = False
                    self._leases.remove(lease)
                    lost.append(lease)
        for lease in lost:
            if lease.on_lost is not None:
                log.info("%s: its claim is gone (cancelled or taken over); stopping", lease.what)
                lease.on_lost()


_process_leases: tuple[int, Runtime, _ProcessLeases] | None = None
_process_leases_lock = threading.Lock()


def process_leases(rt: Runtime) -> _ProcessLeases:
    """This process's lease keeper (a forked child, or a new runtime, starts its own)."""
    global _process_leases
    with _process_leases_lock:
        if (_process_leases is None or _process_leases[0] != os.getpid()
                or _process_leases[1] is not rt):
            _process_leases = (os.getpid(), rt, _ProcessLeases(rt))
        return _process_leases[2]


def _after_fork_in_child() -> None:
    # Another thread may have held the lock at the fork; the child's keeper starts afresh.
    global _process_leases_lock
    _process_leases_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


class LeaseKeeper:
    """Keeps a lease (a document's or an OCR part's) renewed while the block runs, by the
    process's one lease-keeping thread.

    `renew` runs in a write transaction and says False once the lease is no longer ours; then
    `on_lost` is called (to stop the work: a cancelled document, worker/cancel.py).
    """

    def __init__(self, rt: Runtime, renew: Callable[[Session, float], bool], what: str,
                 on_lost: Callable[[], None] | None = None) -> None:
        self._keeper = process_leases(rt)
        self._lease = _Lease(renew, what, on_lost,
                             due=time.monotonic() + rt.settings.lease_seconds / 3)

    def __enter__(self) -> LeaseKeeper:
        self._keeper.hold(self._lease)
        return self

    def __exit__(self, *exc: object) -> None:
        self._keeper.drop(self._lease)


def holder_gone(rt: Runtime, session: Session) -> Callable[[Holder], bool]:
    """Tell whether the worker holding a lease is dead, so its work need not wait."""
    stale: set[str] | None = None

    def check(holder: Holder) -> bool:
        nonlocal stale
        # This process is free to run a task, so an earlier claim of ours is over.
        if holder.worker_host == HOSTNAME and holder.worker_pid and (
                holder.worker_pid == os.getpid() or not psutil.pid_exists(holder.worker_pid)):
            return True
        if stale is None:
            stale = stale_worker_names(session, rt.settings.worker_stale_seconds)
        return holder.worker in stale

    return check
