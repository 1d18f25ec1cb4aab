"""Workers as their heartbeats in the database describe them, so any broker will do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psutil
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from docflow.store.models import (
    Document,
    DocumentStatus,
    OcrPart,
    OcrPartStatus,
    Worker,
    utcnow,
)


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    hostname: str
    pid: int
    concurrency: int
    queues: list[str]
    active_tasks: int
    started_at: datetime
    last_heartbeat: datetime
    online: bool
    state: str  # online | lost (heartbeat stopped) | stopped (shut down cleanly)


def heartbeat(session: Session, *, name: str, hostname: str, pid: int, concurrency: int,
              queues: str) -> int:
    """Record that a worker is alive, with the tasks it is running now: whole documents and
    OCR parts of long scans (a split document itself is held by no worker)."""
    now = utcnow()
    active = active_tasks(session, name)
    row = session.get(Worker, name)
    if row is None or row.pid != pid:
        if row is not None:
            session.delete(row)
            session.flush()
        row = Worker(name=name, started_at=now)
        session.add(row)
    row.hostname, row.pid, row.concurrency, row.queues = hostname, pid, concurrency, queues
    row.status, row.active_tasks, row.last_heartbeat = "online", active, now
    return active


def active_tasks(session: Session, name: str) -> int:
    # A split document keeps its last holder's name without a lease: its parts are the work.
    documents = session.scalar(select(func.count()).select_from(Document).where(
        Document.status == DocumentStatus.PROCESSING, Document.worker == name,
        Document.lease_until.is_not(None))) or 0
    parts = session.scalar(select(func.count()).select_from(OcrPart).where(
        OcrPart.status == OcrPartStatus.PROCESSING, OcrPart.worker == name)) or 0
    return documents + parts


def mark_stopped(session: Session, name: str) -> None:
    row = session.get(Worker, name)
    if row is not None:
        row.status = "stopped"
        row.active_tasks = 0
        row.last_heartbeat = utcnow()


def list_workers(session: Session, stale_after: float) -> list[WorkerInfo]:
    """Workers seen recently, newest first; a silent or stopped worker is listed as offline."""
    now = utcnow()
    horizon = now - timedelta(seconds=max(stale_after * 20, 600))
    rows = session.scalars(select(Worker).where(Worker.last_heartbeat >= horizon)
                           .order_by(Worker.name))
    infos = []
    for r in rows:
        silent = (now - r.last_heartbeat).total_seconds() > stale_after
        state = "stopped" if r.status != "online" else "lost" if silent else "online"
        infos.append(WorkerInfo(
            name=r.name, hostname=r.hostname, pid=r.pid, concurrency=r.concurrency,
            queues=r.queues.split(","), active_tasks=r.active_tasks if state == "online" else 0,
            started_at=r.started_at, last_heartbeat=r.last_heartbeat,
            online=state == "online", state=state))
    return infos


def stale_worker_names(session: Session, stale_after: float) -> set[str]:
    """Names of workers whose heartbeat stopped (dead host or killed main process)."""
    cutoff = utcnow() - timedelta(seconds=stale_after)
    return set(session.scalars(select(Worker.name).where(
        (Worker.last_heartbeat < cutoff) | (Worker.status != "online"))))


def live_worker_names(session: Session, stale_after: float, *, this_host: str) -> set[str]:
    """Names held by a worker that is beating now.

    A name whose holder ran on this host in a process that no longer exists is free even before
    its heartbeat goes stale (a worker killed and started again at once).
    """
    cutoff = utcnow() - timedelta(seconds=stale_after)
    rows = session.execute(select(Worker.name, Worker.hostname, Worker.pid).where(
        Worker.last_heartbeat >= cutoff, Worker.status == "online"))
    return {name for name, host, pid in rows
            if host != this_host or (pid and psutil.pid_exists(pid))}
