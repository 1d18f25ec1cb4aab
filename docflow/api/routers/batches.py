"""Batches: create one empty (to fill with POST /api/batches/{id}/files), read it, its progress."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Header, Path, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from docflow.api.errors import ERROR_RESPONSES, not_found
from docflow.api.multipart import IDEMPOTENCY_KEY
from docflow.api.schemas import BatchCreate, BatchOut, BatchStatus
from docflow.api.state import ApiState, get_state
from docflow.store import Batch
from docflow.store.batches import batch_progress, open_batch, write_with_retry
from docflow.store.cancel import cancel_batch

router = APIRouter(tags=["progress"])

BATCH_SOURCE = "batch-api"


def _out(batch: Batch) -> BatchOut:
    return BatchOut(batch_id=batch.id, name=batch.name, source=batch.source,
                    document_count=batch.document_count, created_at=batch.created_at)


@router.post("/api/batches", status_code=201, response_model=BatchOut, tags=["upload"],
             responses={**ERROR_RESPONSES, 200: {"model": BatchOut, "description":
                        "The batch created earlier with the same Idempotency-Key"}},
             summary="Create an empty batch")
def create_batch(response: Response, body: BatchCreate | None = Body(None),
                 idempotency_key: str | None = Header(
                     None, alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY.pattern,
                     description="Send the same key again (a retry after a lost response) to "
                     "get the same batch instead of a second one."),
                 state: ApiState = Depends(get_state)) -> BatchOut:
    """Create a batch to fill with `POST /api/batches/{batch_id}/files`, in as many requests
    as suit the client. Follow it with `GET /api/batch-status/{batch_id}`."""
    name = body.name if body else None

    def work(session: Session) -> tuple[BatchOut, bool]:
        batch, created = open_batch(session, BATCH_SOURCE, name, idempotency_key)
        return _out(batch), created

    out, created = write_with_retry(state.store.db, work)
    if not created:
        response.status_code = 200
    return out


@router.get("/api/batches/{batch_id}", response_model=BatchOut, responses=ERROR_RESPONSES,
            summary="One batch")
def get_batch(batch_id: str = Path(description="The batch's id."),
              state: ApiState = Depends(get_state)) -> BatchOut:
    """The batch's name, where it came from, how many documents it holds and when it was made."""
    with state.store.db.read() as session:
        batch = session.get(Batch, batch_id)
        if batch is None:
            raise not_found("batch", batch_id)
        return _out(batch)


@router.get("/api/batch-status/{batch_id}", response_model=BatchStatus,
            responses=ERROR_RESPONSES, summary="Progress of a batch")
def batch_status(batch_id: str = Path(description="The batch's id."),
                 state: ApiState = Depends(get_state)) -> BatchStatus:
    """How many of the batch's documents (attachments and archive members included) are
    queued, processing, completed and failed, and the share finished. Poll it for a progress
    bar; `GET /api/documents?batch_id=...&status=failed` lists the failures with reasons."""
    with state.store.db.read() as session:
        progress = batch_progress(session, batch_id)
    if progress is None:
        raise not_found("batch", batch_id)
    return BatchStatus(batch_id=batch_id, total=progress.total, completed=progress.completed,
                       processing=progress.processing, queued=progress.queued,
                       failed=progress.failed, cancelled=progress.cancelled,
                       progress_percent=progress.progress_percent,
                       with_warnings=progress.with_warnings, warnings=progress.warnings)


class Cancelled(BaseModel):
    cancelled: int = Field(description="Documents stopped now (queued or processing ones); "
                           "finished documents keep their results.")


@router.post("/api/batches/{batch_id}/cancel", response_model=Cancelled,
             responses=ERROR_RESPONSES, summary="Cancel a batch's unfinished documents")
def cancel_a_batch(batch_id: str = Path(description="The batch's id."),
                   state: ApiState = Depends(get_state)) -> Cancelled:
    """Stop every queued or processing document of the batch: each ends `cancelled` (not
    failed); workers reading one stop within a lease renewal. Safe to repeat."""
    with state.store.db.write() as session:
        if session.get(Batch, batch_id) is None:
            raise not_found("batch", batch_id)
        return Cancelled(cancelled=cancel_batch(session, batch_id))
