"""A batch's failures: grouped by reason, exported, and the retryable ones sent again."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from docflow.api.errors import ERROR_RESPONSES, not_found
from docflow.api.state import ApiState, get_state
from docflow.store import Batch, Document, DocumentStatus
from docflow.store.activity import failures_of_batch
from docflow.store.listing import DocumentFilter, walk_documents
from docflow.store.models import utcnow
from docflow.worker.dispatch import TaskRef
from docflow.worker.routing import queue_for_name

router = APIRouter(tags=["progress"])

# Failures that say nothing about the document itself: the same bytes may well go through now.
RETRYABLE_CODES = ("transient_error", "worker_lost", "timeout")
EXPORT_PAGE = 1000


class FailureGroup(BaseModel):
    code: str
    count: int
    message: str = Field(description="One of the messages given for this code.")
    retryable: bool = Field(description="POST /api/batches/{id}/retry sends these again.")


class BatchFailures(BaseModel):
    batch_id: str
    failed: int
    groups: list[FailureGroup]


class Retried(BaseModel):
    retried: int = Field(description="Failed documents queued again.")
    codes: list[str] = Field(description="The failure codes that are retried.")


def _require_batch(state: ApiState, batch_id: str) -> None:
    with state.store.db.read() as session:
        if session.get(Batch, batch_id) is None:
            raise not_found("batch", batch_id)


@router.get("/api/batches/{batch_id}/failures", response_model=BatchFailures,
            responses=ERROR_RESPONSES, summary="A batch's failures by reason")
def failures(batch_id: str = Path(description="The batch's id."),
             state: ApiState = Depends(get_state)) -> BatchFailures:
    """How many of the batch's documents failed for each reason code, with one message each
    and whether a retry may help."""
    _require_batch(state, batch_id)
    with state.store.db.read() as session:
        rows = failures_of_batch(session, batch_id)
    groups = [FailureGroup(code=code or "unknown", count=count, message=message or "",
                           retryable=code in RETRYABLE_CODES) for code, count, message in rows]
    return BatchFailures(batch_id=batch_id, failed=sum(g.count for g in groups), groups=groups)


EXPORT_COLUMNS = ("id", "source_path", "filename", "error_code", "error_message", "finished_at")


def _failed_rows(state: ApiState, batch_id: str) -> Iterator[dict[str, str]]:
    # Page after page by key (batch, status, created_at, id): no offset scans, no whole batch
    # in memory, no read held open while a page goes out.
    failed = DocumentFilter(batch_id=batch_id, status=DocumentStatus.FAILED)
    for page in walk_documents(state.store.db, failed, EXPORT_PAGE):
        for doc in page:
            yield {k: "" if getattr(doc, k) is None else str(getattr(doc, k))
                   for k in EXPORT_COLUMNS}


def _csv(rows: Iterator[dict[str, str]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, EXPORT_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _json_lines(rows: Iterator[dict[str, str]]) -> Iterator[str]:
    yield "["
    for n, row in enumerate(rows):
        yield ("," if n else "") + json.dumps(row)
    yield "]"


@router.get("/api/batches/{batch_id}/failures/export", response_class=StreamingResponse,
            responses={**ERROR_RESPONSES, 200: {"description": "Every failed document",
                                                "content": {"text/csv": {},
                                                            "application/json": {}}}},
            summary="Download a batch's failures")
def export_failures(batch_id: str = Path(description="The batch's id."),
                    format: str = Query("csv", pattern="^(csv|json)$",
                                        description="csv or json."),
                    state: ApiState = Depends(get_state)) -> StreamingResponse:
    """Every failed document of the batch with its path and reason, as CSV or a JSON array."""
    _require_batch(state, batch_id)
    rows = _failed_rows(state, batch_id)
    body, media = (_csv(rows), "text/csv") if format == "csv" else (_json_lines(rows),
                                                                     "application/json")
    name = f"batch-{batch_id}-failures.{format}"
    return StreamingResponse(body, media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/api/batches/{batch_id}/retry", response_model=Retried, responses=ERROR_RESPONSES,
             summary="Retry a batch's retryable failures")
def retry(batch_id: str = Path(description="The batch's id."),
          state: ApiState = Depends(get_state)) -> Retried:
    """Queue again the batch's documents that failed for a reason outside the document
    (transient_error, worker_lost, timeout), with fresh attempts; documents that are corrupt,
    encrypted or unsupported stay failed. Safe to repeat."""
    _require_batch(state, batch_id)
    with state.store.db.write() as session:
        rows = session.execute(
            select(Document.id, Document.task_id, Document.filename)
            .where(Document.batch_id == batch_id, Document.status == DocumentStatus.FAILED,
                   Document.error_code.in_(RETRYABLE_CODES))).all()
        ids = [r.id for r in rows]
        for start in range(0, len(ids), 500):
            # The status condition again: a document changed since the read stays as it is.
            session.execute(
                update(Document)
                .where(Document.id.in_(ids[start:start + 500]),
                       Document.status == DocumentStatus.FAILED)
                .values(status=DocumentStatus.QUEUED, error_code=None, error_message=None,
                        attempts=0, finished_at=None, started_at=None, lease_until=None,
                        worker=None, worker_host=None, worker_pid=None, ocr_parts=None,
                        enqueued_at=utcnow()))
    # Rows first, then tasks (DESIGN.md); a send that fails leaves them to the reconciler.
    state.dispatcher.send(TaskRef(r.id, r.task_id, queue_for_name(r.filename)) for r in rows)
    return Retried(retried=len(rows), codes=list(RETRYABLE_CODES))
