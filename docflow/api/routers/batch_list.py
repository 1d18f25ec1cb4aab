"""GET /api/batches: the latest batches with their progress, for the web app's list."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from docflow.api.cursors import (
    CURSOR_HELP,
    MAX_CURSOR_CHARS,
    KeyType,
    decode_cursor,
    page_cursors,
)
from docflow.api.errors import ERROR_RESPONSES, ApiError
from docflow.api.routers.documents import MAX_LIST_OFFSET
from docflow.api.schemas import (
    NEXT_CURSOR_HELP,
    PREV_CURSOR_HELP,
    TOTAL_HELP,
    BatchOut,
    BatchStatus,
)
from docflow.api.state import ApiState, get_state
from docflow.store.batches import BATCH_ORDER, count_batches, progress_of_batches
from docflow.store.batches import list_batches as batches_page

router = APIRouter(tags=["progress"])
LISTING, ORDER = "batches", "newest"


class BatchWithProgress(BatchOut):
    progress: BatchStatus


class BatchList(BaseModel):
    total: int | None = Field(None, description=TOTAL_HELP)
    limit: int
    offset: int
    next_cursor: str | None = Field(None, description=NEXT_CURSOR_HELP)
    prev_cursor: str | None = Field(None, description=PREV_CURSOR_HELP)
    batches: list[BatchWithProgress]


@router.get("/api/batches", response_model=BatchList, responses=ERROR_RESPONSES,
            summary="List batches, newest first")
def list_batches(limit: int = Query(20, ge=1, le=100, description="Batches per page."),
                 cursor: str | None = Query(None, max_length=MAX_CURSOR_CHARS,
                                            description=CURSOR_HELP),
                 offset: int = Query(0, ge=0, le=MAX_LIST_OFFSET,
                                     description="Batches to skip, for clients written "
                                     "before cursors (costs O(offset)); not with "
                                     "`cursor`."),
                 count: bool = Query(False, description="true: also count every batch "
                                     "(`total`)."),
                 state: ApiState = Depends(get_state)) -> BatchList:
    """A page of batches, newest first (then by id), each with its progress (the page's
    counters, read in one query), and cursors to the pages beside it."""
    at = None
    if cursor is not None:
        if offset:
            raise ApiError(422, "cursor_with_offset", "Send a cursor or an offset, not both: "
                           "the cursor says where the page starts.")
        at = decode_cursor(cursor, LISTING, ORDER, {}, (KeyType.TIME, KeyType.TEXT))
    with state.store.db.read() as session:
        page = batches_page(session, limit, offset=offset,
                            after=at.key if at and not at.before else None,
                            before=at.key if at and at.before else None)
        total = count_batches(session) if count else None
        progress = progress_of_batches(session, [b.id for b in page.rows])
        out = []
        for b in page.rows:
            p = progress[b.id]
            out.append(BatchWithProgress(
                batch_id=b.id, name=b.name, source=b.source, document_count=b.document_count,
                created_at=b.created_at, progress=BatchStatus(
                    batch_id=b.id, total=p.total, completed=p.completed,
                    processing=p.processing, queued=p.queued, failed=p.failed,
                    cancelled=p.cancelled, progress_percent=p.progress_percent,
                    with_warnings=p.with_warnings, warnings=p.warnings)))
    next_cursor, prev_cursor = page_cursors(LISTING, ORDER, {}, page.rows, page.more_after,
                                            page.more_before, BATCH_ORDER.key_of)
    return BatchList(total=total, limit=limit, offset=offset, next_cursor=next_cursor,
                     prev_cursor=prev_cursor, batches=out)
