"""GET /api/search: full-text search with filters and snippets."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from docflow.api.errors import ERROR_RESPONSES
from docflow.api.schemas import SearchHitOut, SearchResponse
from docflow.api.state import ApiState, get_state

router = APIRouter(tags=["search"])


@router.get("/api/search", response_model=SearchResponse, responses=ERROR_RESPONSES,
            summary="Search documents")
def search(q: str = Query(..., min_length=1, description="Words, \"phrases\", AND/OR/-."),
           doc_type: str | None = Query(None, description="Only this document type."),
           batch_id: str | None = Query(None, description="Only this batch."),
           limit: int = Query(20, ge=1, le=200), offset: int = Query(0, ge=0),
           state: ApiState = Depends(get_state)) -> SearchResponse:
    results = state.search_index().search(q, doc_type=doc_type, batch_id=batch_id, limit=limit,
                                          offset=offset)
    return SearchResponse(query=q, total=results.total, limit=limit, offset=offset,
                          hits=[SearchHitOut(**vars(h)) for h in results.hits])
