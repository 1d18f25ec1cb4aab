"""GET /api/search: full-text, semantic or hybrid search with filters and snippets
(docflow.search.modes does the searching; this maps it to HTTP)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query

from docflow.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from docflow.api.routers.documents import PATH_PREFIX_HELP
from docflow.api.schemas import SearchFacets, SearchHitOut, SearchResponse
from docflow.api.state import ApiState, get_state
from docflow.pipeline.classify.embeddings import EmbeddingModelMissing
from docflow.search import (
    MAX_SEARCH_DEPTH,
    IndexOutdated,
    SearchDepthExceeded,
    SearchFilters,
    SearchMode,
    SearchSort,
    modes,
)
from docflow.store.documents import MAX_SOURCE_PATH, source_paths
from docflow.store.tenants import tenants_apart

router = APIRouter(tags=["search"])

MAX_QUERY_CHARS = 2_000
MAX_FILTER_CHARS = 200

MODE_HELP = (
    "keyword: documents holding any of the words of `q`, ranked by BM25 (rarer words and "
    "more of them rank higher; words are stemmed, English stop words such as \"what\" or "
    "\"the\" are not searched unless `q` has no other word); documents holding all the "
    "words rank first, those holding them as a phrase before them, and `score` is BM25 plus "
    "a fixed bonus for each. semantic: documents whose meaning is closest to "
    "`q`, by the embeddings of their passages computed when they were processed (needs "
    "DOCFLOW_SEMANTIC_SEARCH, the default, or DOCFLOW_ZERO_SHOT; documents processed without "
    "them are not found this way); score is the cosine similarity of the best passage. "
    "hybrid (the default where documents are embedded, else keyword): the keyword ranking "
    "and the semantic one fused by their scores (BM25 without the bonus, and the mean of the "
    "first and the best passage's similarity, each scaled to 0..1 over its ranking, "
    "averaged); score is the fused score (0..1), and `total` may count a document found "
    "both ways twice when matches run past the page. Every filter applies in every mode "
    "(semantic search with a path or date filter compares the query with each stored "
    "vector that passes it)."
)
SORT_HELP = (
    "relevance (best match first, the default), date (newest upload first) or date_asc "
    "(oldest first); ordered by date, hits carry score 0. Date orders keyword matches: with "
    "`mode` left out it searches by keyword; mode=semantic or hybrid with a date order is "
    "refused (422 sort_needs_keyword).")
DATE_HELP = ("Uploaded on or {} this day (YYYY-MM-DD, UTC): the document's `created_at`, as "
             "GET /api/documents shows it.")

NOT_TENANT_AWARE = (
    "The search index was written by an older docflow, without the tenant of each document, "
    "and this server has tenants (docflow tenant create): keyword and hybrid search wait for "
    "its rebuild, which the housekeeper starts by itself (`docflow reindex` shows and resumes "
    "it). Meanwhile use mode=semantic or GET /api/documents with filters.")

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    422: {"model": ErrorBody, "description": "Invalid request: a parameter out of bounds or "
                                             "not a date, date_from after date_to "
                                             "(invalid_date_range), a page too deep "
                                             "(search_too_deep), a date order outside keyword "
                                             "search (sort_needs_keyword)"},
    503: {"model": ErrorBody, "description": "Semantic search cannot run: the embedding model "
                                             "is not installed (embedding_model_missing); or "
                                             "the search index is from an older docflow and is "
                                             "being rebuilt (search_index_outdated)"},
}


@router.get("/api/search", response_model=SearchResponse, responses=_RESPONSES,
            summary="Search documents")
def search(q: str = Query(..., min_length=1, max_length=MAX_QUERY_CHARS,
                          description="Words (any of them may match; see `mode`), "
                          "\"a phrase\", -excluded or NOT excluded, +required, AND / OR "
                          "(AND binds first) and (groups), prefix*, filename:word and "
                          "text:word; `*` lists every document. In semantic mode, a sentence "
                          "saying what you look for. Syntax that cannot mean anything (an "
                          "unclosed quote, another field, ^ or ~) is read as plain words."),
           doc_type: str | None = Query(None, max_length=MAX_FILTER_CHARS,
                                        description="Only this document type."),
           batch_id: str | None = Query(None, max_length=MAX_FILTER_CHARS,
                                        description="Only this batch."),
           path_prefix: str | None = Query(None, max_length=MAX_SOURCE_PATH,
                                           description=PATH_PREFIX_HELP),
           date_from: date | None = Query(None, description=DATE_HELP.format("after")),
           date_to: date | None = Query(None, description=DATE_HELP.format("before")),
           mode: SearchMode | None = Query(None, description=MODE_HELP),
           sort: SearchSort = Query(SearchSort.RELEVANCE, description=SORT_HELP),
           facets: bool = Query(True, description="Also count the matches per document type "
                                "(`facets`); false saves that work."),
           limit: int = Query(20, ge=1, le=200, description="Hits per page."),
           offset: int = Query(0, ge=0, lt=MAX_SEARCH_DEPTH, description="Hits to skip "
                               f"(paging); offset + limit is at most {MAX_SEARCH_DEPTH}."),
           state: ApiState = Depends(get_state)) -> SearchResponse:
    """Completed documents ranked by relevance (or ordered by upload date): id, file name,
    path in the uploaded folder, type, score and a snippet with the matched words, with the
    matches counted per document type (`facets`). A document is searchable a few seconds
    after it completes. Pages reach at most 10,000 hits deep (offset + limit): narrow the
    query or filter beyond that."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ApiError(422, "invalid_date_range", f"date_from ({date_from}) is after date_to "
                       f"({date_to}): no document could match.")
    filters = SearchFilters.uploaded_between(date_from, date_to, doc_type=doc_type,
                                             batch_id=batch_id, path_prefix=path_prefix)
    apart = tenants_apart(state.store.db)
    try:
        index = state.search_index()
        if mode is not SearchMode.SEMANTIC and apart and not index.keeps_tenants:
            raise IndexOutdated(NOT_TENANT_AWARE)
        found = modes.search(index, state.store.db, q, mode, filters=filters, sort=sort,
                             facets=facets, limit=limit, offset=offset,
                             zero_shot=state.settings.makes_embeddings,
                             encoder=state.query_encoder,
                             vectors=state.vector_index())
    except (SearchDepthExceeded, modes.SortNeedsKeyword) as exc:
        raise ApiError(422, exc.code, exc.message) from exc
    except modes.SemanticSearchOff as exc:
        raise ApiError(422, exc.code, f"{exc.message} (mode=keyword)") from exc
    except (EmbeddingModelMissing, IndexOutdated) as exc:
        raise ApiError(503, exc.code, exc.message) from exc
    # The index keeps no paths: one lookup by id for the page (at most `limit` rows).
    with state.store.db.read() as session:
        paths = source_paths(session, [h.id for h in found.hits]) if found.hits else {}
    return SearchResponse(query=q, mode=found.mode.value, sort=sort.value, total=found.total,
                          total_is_lower_bound=found.total_is_lower_bound,
                          limit=limit, offset=offset,
                          facets=None if found.doc_types is None
                          else SearchFacets(doc_type=found.doc_types),
                          hits=[SearchHitOut(**vars(h), source_path=paths.get(h.id))
                                for h in found.hits])

