"""GET /api/overview: the state of the whole service in a few indexed queries."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from docflow.api.state import ApiState, get_state
from docflow.store import DocumentStatus
from docflow.store.activity import completed_since, failures_since
from docflow.store.counts import status_totals
from docflow.store.models import utcnow
from docflow.store.workers import list_workers

router = APIRouter(tags=["progress"])

THROUGHPUT_MINUTES = 10  # long enough to smooth a burst, short enough to follow a change
FAILURE_MINUTES = 60


class Throughput(BaseModel):
    window_minutes: int
    documents_per_minute: float
    pages_per_minute: float


class FailureCount(BaseModel):
    code: str
    count: int
    message: str = Field(description="One of the messages given for this code.")


class WorkerCounts(BaseModel):
    online: int
    lost: int
    stopped: int
    active_tasks: int
    concurrency: int = Field(description="Tasks the online workers can run at once.")


class Overview(BaseModel):
    total: int
    statuses: dict[str, int] = Field(description="Documents per status.")
    throughput: Throughput = Field(description="Documents finished per minute lately.")
    eta_seconds: float | None = Field(description="Time to finish what is queued and "
                                      "processing at that pace; null when nothing moves.")
    pending_messages: int | None = Field(description="Task messages waiting in the broker "
                                         "(Redis/Valkey only); null when unknown.")
    workers: WorkerCounts
    failures_last_hour: list[FailureCount]


@router.get("/api/overview", response_model=Overview, summary="The whole service at a glance")
def overview(state: ApiState = Depends(get_state)) -> Overview:
    """Documents by status, throughput over the last ten minutes and the time left for what is
    waiting at that pace, the broker's queue, workers up and lost, and failures in the last
    hour by code."""
    now = utcnow()
    with state.store.db.read() as session:
        # The tenant's counters (a few rows); the others read finished_at ranges.
        statuses = dict.fromkeys(DocumentStatus.ALL, 0)
        statuses.update(status_totals(session))
        done, pages = completed_since(session, now - timedelta(minutes=THROUGHPUT_MINUTES))
        failures = failures_since(session, now - timedelta(minutes=FAILURE_MINUTES))
        workers = list_workers(session, state.settings.worker_stale_seconds)
    per_minute = done / THROUGHPUT_MINUTES
    waiting = statuses[DocumentStatus.QUEUED] + statuses[DocumentStatus.PROCESSING]
    online = [w for w in workers if w.online]
    return Overview(
        total=sum(statuses.values()), statuses=statuses,
        throughput=Throughput(window_minutes=THROUGHPUT_MINUTES,
                              documents_per_minute=round(per_minute, 2),
                              pages_per_minute=round(pages / THROUGHPUT_MINUTES, 2)),
        eta_seconds=round(60 * waiting / per_minute, 1) if waiting and per_minute else None,
        pending_messages=state.dispatcher.pending_messages(),
        workers=WorkerCounts(online=len(online), lost=sum(w.state == "lost" for w in workers),
                             stopped=sum(w.state == "stopped" for w in workers),
                             active_tasks=sum(w.active_tasks for w in online),
                             concurrency=sum(w.concurrency for w in online)),
        failures_last_hour=[FailureCount(code=code or "unknown", count=count,
                                         message=message or "")
                            for code, count, message in failures])
