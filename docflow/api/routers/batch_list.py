"""GET /api/batches: the latest batches with their progress, for the web app's list."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from docflow.api.routers.documents import MAX_LIST_OFFSET
from docflow.api.schemas import BatchOut, BatchStatus
from docflow.api.state import ApiState, get_state
from docflow.store import Batch
from docflow.store.batches import batch_progress

router = APIRouter(tags=["progress"])


class BatchWithProgress(BatchOut):
    progress: BatchStatus


class BatchList(BaseModel):
    total: int
    limit: int
    offset: int
    batches: list[BatchWithProgress]


@router.get("/api/batches", response_model=BatchList, summary="List batches, newest first")
def list_batches(limit: int = Query(20, ge=1, le=100, description="Batches per page."),
                 offset: int = Query(0, ge=0, le=MAX_LIST_OFFSET,
                                     description="Batches to skip (paging)."),
                 state: ApiState = Depends(get_state)) -> BatchList:
    """A page of batches, newest first, each with its progress (one indexed count each)."""
    with state.store.db.read() as session:
        total = session.scalar(select(func.count()).select_from(Batch)) or 0
        rows = session.scalars(select(Batch).order_by(Batch.created_at.desc(), Batch.id)
                               .limit(limit).offset(offset)).all()
        out = []
        for b in rows:
            p = batch_progress(session, b.id)
            assert p is not None
            out.append(BatchWithProgress(
                batch_id=b.id, name=b.name, source=b.source, document_count=b.document_count,
                created_at=b.created_at, progress=BatchStatus(
                    batch_id=b.id, total=p.total, completed=p.completed,
                    processing=p.processing, queued=p.queued, failed=p.failed,
                    cancelled=p.cancelled, progress_percent=p.progress_percent,
                    with_warnings=p.with_warnings, warnings=p.warnings)))
    return BatchList(total=total, limit=limit, offset=offset, batches=out)
