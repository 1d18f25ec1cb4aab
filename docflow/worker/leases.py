"""Leases while a task works: renewed from a background thread, and a dead holder recognised."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
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


class LeaseKeeper:
    """Renews a lease (a document's or an OCR part's) from a background thread.

    `renew` runs in a write transaction and says False once the lease is no longer ours; then
    `on_lost` is called (to stop the work: a cancelled document, worker/cancel.py).
    """

    def __init__(self, rt: Runtime, renew: Callable[[Session, float], bool], what: str,
                 on_lost: Callable[[], None] | None = None) -> None:
        self._rt, self._renew, self._what, self._on_lost = rt, renew, what, on_lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        seconds = self._rt.settings.lease_seconds
        while not self._stop.wait(seconds / 3):
            try:
                with self._rt.store.db.write() as session:
                    renewed = self._renew(session, seconds)
                if not renewed:
                    if self._on_lost is not None:
                        log.info("%s: its claim is gone (cancelled or taken over); stopping",
                                 self._what)
                        self._on_lost()
                    return
            except Exception:  # a missed renewal is retried; the lease has slack for two
                log.warning("could not renew the lease of %s", self._what, exc_info=True)


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
