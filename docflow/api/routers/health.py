"""GET /health: database, broker and workers; 503 when one of them is down."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from docflow.api.errors import SERVER_ERROR_RESPONSES
from docflow.api.schemas import ComponentHealth, HealthResponse
from docflow.api.state import ApiState, get_state
from docflow.store.workers import list_workers

router = APIRouter(tags=["health"])


def _check(state: ApiState) -> HealthResponse:
    try:
        with state.store.db.read() as session:
            session.execute(text("SELECT 1"))
            online = [w for w in list_workers(session, state.settings.worker_stale_seconds)
                      if w.online]
        database = ComponentHealth(ok=True, detail=state.store.db.engine.dialect.name)
        workers = ComponentHealth(ok=bool(online), detail=f"{len(online)} online")
    except Exception as exc:
        database = ComponentHealth(ok=False, detail=f"{type(exc).__name__}: {exc}")
        workers = ComponentHealth(ok=False, detail="unknown: the database is down")
    broker_ok = state.dispatcher.ping()
    broker = ComponentHealth(ok=broker_ok, detail="reachable" if broker_ok else
                             "unreachable (is `docflow serve` running?)")
    ok = database.ok and broker.ok and workers.ok
    return HealthResponse(status="ok" if ok else "degraded", database=database, broker=broker,
                          workers=workers)


@router.get("/health", response_model=HealthResponse,
            responses={**SERVER_ERROR_RESPONSES,
                       503: {"model": HealthResponse, "description": "A component is down"}},
            summary="Service health")
async def health(state: ApiState = Depends(get_state)) -> JSONResponse:
    """Whether the database and the broker answer and how many workers reported lately:
    200 when all is well, 503 (same body) when any part is down, for load balancers and
    orchestrators."""
    report = await run_in_threadpool(_check, state)
    return JSONResponse(status_code=200 if report.status == "ok" else 503,
                        content=report.model_dump(mode="json"))
