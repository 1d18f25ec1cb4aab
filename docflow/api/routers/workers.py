"""GET /api/workers, read from worker heartbeats in the database."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from docflow.api.errors import ERROR_RESPONSES
from docflow.api.schemas import WorkerOut, WorkersResponse
from docflow.api.state import ApiState, get_state
from docflow.store.workers import list_workers

router = APIRouter(tags=["progress"])


@router.get("/api/workers", response_model=WorkersResponse, responses=ERROR_RESPONSES,
            summary="Workers and their tasks")
def workers(state: ApiState = Depends(get_state)) -> WorkersResponse:
    """Every worker that reported lately, read from the heartbeats workers write to the
    database (so it works on any broker): its node name, host, queues, concurrency, active
    tasks, last heartbeat and state (`online`, `lost` once silent too long, or `stopped`)."""
    with state.store.db.read() as session:
        rows = list_workers(session, state.settings.worker_stale_seconds)
    online = [w for w in rows if w.online]
    return WorkersResponse(
        worker_count=len(online), active_tasks=sum(w.active_tasks for w in online),
        workers=[WorkerOut(**vars(w)) for w in rows])
