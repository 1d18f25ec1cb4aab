"""GET /api/batch-status/{batch_id}."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from docflow.api.errors import ERROR_RESPONSES, not_found
from docflow.api.schemas import BatchStatus
from docflow.api.state import ApiState, get_state
from docflow.store.batches import batch_progress

router = APIRouter(tags=["progress"])


@router.get("/api/batch-status/{batch_id}", response_model=BatchStatus,
            responses=ERROR_RESPONSES, summary="Progress of a batch")
def batch_status(batch_id: str, state: ApiState = Depends(get_state)) -> BatchStatus:
    with state.store.db.read() as session:
        progress = batch_progress(session, batch_id)
    if progress is None:
        raise not_found("batch", batch_id)
    return BatchStatus(batch_id=batch_id, total=progress.total, completed=progress.completed,
                       processing=progress.processing, queued=progress.queued,
                       failed=progress.failed, progress_percent=progress.progress_percent)
