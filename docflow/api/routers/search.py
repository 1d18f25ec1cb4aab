"""GET /api/search: full-text, semantic or hybrid search with filters and snippets
(docflow.search.modes does the searching; this maps it to HTTP)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from docflow.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from docflow.api.schemas import SearchHitOut, SearchResponse
from docflow.api.state import ApiState, get_state
from docflow.pipeline.classify.embeddings import EmbeddingModelMissing
from docflow.search import MAX_SEARCH_DEPTH, SearchDepthExceeded, SearchMode, modes
from docflow.store.documents import source_paths
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
    "and the semantic one fused by reciprocal rank; score is the fused "
    "score, and `total` may count a document found both ways twice when matches run past the "
    "page."
)

# The tantivy index holds no tenant yet (its schema changes with a reindex): until then a
# server with tenants answers no keyword search there rather than show one tenant another's
# hits. The PostgreSQL index filters by tenant (migration 0014).
NOT_TENANT_AWARE = (
    "Keyword and hybrid search on the tantivy index do not yet keep tenants apart, so they are "
    "off on a server with tenants (docflow tenant create). Use mode=semantic, "
    "DOCFLOW_SEARCH=postgres, or GET /api/documents with filters.")

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    501: {"model": ErrorBody, "description": "Keyword or hybrid search on a server with "
                                             "tenants (search_not_tenant_aware)"},
    503: {"model": ErrorBody, "description": "Semantic search cannot run: the embedding model "
                                             "is not installed (embedding_model_missing)"},
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
           mode: SearchMode | None = Query(None, description=MODE_HELP),
           limit: int = Query(20, ge=1, le=200, description="Hits per page."),
           offset: int = Query(0, ge=0, lt=MAX_SEARCH_DEPTH, description="Hits to skip "
                               f"(paging); offset + limit is at most {MAX_SEARCH_DEPTH}."),
           state: ApiState = Depends(get_state)) -> SearchResponse:
    """Completed documents ranked by relevance: id, file name, path in the uploaded folder,
    type, score and a snippet with the matched words. A document is searchable a few seconds
    after it completes. Pages reach at most 10,000 hits deep (offset + limit): narrow the
    query or filter beyond that."""
    apart = tenants_apart(state.store.db)
    if mode is not SearchMode.SEMANTIC and state.settings.search != "postgres" and apart:
        raise ApiError(501, "search_not_tenant_aware", NOT_TENANT_AWARE)
    try:
        # The vector indexes hold no tenant yet: with tenants, the stored vectors are compared
        # one by one, through the store's tenant filter.
        found = modes.search(state.search_index(), state.store.db, q, mode, doc_type=doc_type,
                             batch_id=batch_id, limit=limit, offset=offset,
                             zero_shot=state.settings.makes_embeddings,
                             encoder=state.query_encoder,
                             vectors=None if apart else state.vector_index())
    except SearchDepthExceeded as exc:
        raise ApiError(422, exc.code, exc.message) from exc
    except modes.SemanticSearchOff as exc:
        raise ApiError(422, exc.code, f"{exc.message} (mode=keyword)") from exc
    except EmbeddingModelMissing as exc:
        raise ApiError(503, exc.code, exc.message) from exc
    # The index keeps no paths: one lookup by id for the page (at most `limit` rows).
    with state.store.db.read() as session:
        paths = source_paths(session, [h.id for h in found.hits]) if found.hits else {}
    return SearchResponse(query=q, mode=found.mode.value, total=found.total, limit=limit,
                          offset=offset, hits=[SearchHitOut(**vars(h), source_path=paths.get(h.id))
                                               for h in found.hits])
