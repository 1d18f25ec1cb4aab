"""GET /api/search: full-text, semantic or hybrid search with filters and snippets.

Keyword hits come from the search index (tantivy or PostgreSQL). Semantic hits come from the
embeddings the workers stored while classifying (DOCFLOW_ZERO_SHOT); only the query is
embedded here, once per request. Hybrid fuses both rankings by reciprocal rank.
"""

from __future__ import annotations

import html
import re
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Depends, Query

from docflow.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from docflow.api.schemas import SearchHitOut, SearchResponse
from docflow.api.state import ApiState, get_state
from docflow.pipeline.classify.embeddings import EmbeddingModelMissing
from docflow.search import SearchHit, SearchResults
from docflow.search.fusion import reciprocal_rank_fusion
from docflow.store import embeddings
from docflow.store.documents import source_paths

router = APIRouter(tags=["search"])

# Below this cosine similarity a document is not counted as a semantic match (MiniLM puts
# unrelated texts at -0.1..0.15; a query and a document about the same thing at 0.3 and above).
MIN_SIMILARITY = 0.2
SNIPPET_CHARS = 200
_WORD = re.compile(r"\w+")


class SearchMode(StrEnum):
    KEYWORD = "keyword"
    SEMANTIC = "semantic"
    HYBRID = "hybrid"


MODE_HELP = (
    "keyword: the words of `q` (the default). semantic: documents whose meaning is closest to "
    "`q`, by the sentence embeddings computed when they were classified (needs "
    "DOCFLOW_ZERO_SHOT=true; documents processed without it are not found this way); score is "
    "the cosine similarity. hybrid: the keyword ranking (any of the words) and the semantic one "
    "fused by reciprocal rank; score is the fused "
    "score, and `total` may count a document found both ways twice when matches run past the "
    "page."
)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    503: {"model": ErrorBody, "description": "Semantic search cannot run: the embedding model "
                                             "is not installed (embedding_model_missing)"},
}


@router.get("/api/search", response_model=SearchResponse, responses=_RESPONSES,
            summary="Search documents")
def search(q: str = Query(..., min_length=1, description="Words, \"phrases\", AND/OR/-; in "
                          "semantic mode, a sentence saying what you look for."),
           doc_type: str | None = Query(None, description="Only this document type."),
           batch_id: str | None = Query(None, description="Only this batch."),
           mode: SearchMode = Query(SearchMode.KEYWORD, description=MODE_HELP),
           limit: int = Query(20, ge=1, le=200, description="Hits per page."),
           offset: int = Query(0, ge=0, description="Hits to skip (paging)."),
           state: ApiState = Depends(get_state)) -> SearchResponse:
    """Completed documents ranked by relevance: id, file name, path in the uploaded folder,
    type, score and a snippet with the matched words. A document is searchable a few seconds
    after it completes."""
    if mode is SearchMode.KEYWORD:
        results = state.search_index().search(q, doc_type=doc_type, batch_id=batch_id,
                                              limit=limit, offset=offset)
        total, hits = results.total, results.hits
    else:
        total, hits = _semantic(state, q, mode, doc_type, batch_id, limit, offset)
    # The index keeps no paths: one lookup by id for the page (at most `limit` rows).
    with state.store.db.read() as session:
        paths = source_paths(session, [h.id for h in hits]) if hits else {}
    return SearchResponse(query=q, mode=mode.value, total=total, limit=limit, offset=offset,
                          hits=[SearchHitOut(**vars(h), source_path=paths.get(h.id))
                                for h in hits])


def _semantic(state: ApiState, q: str, mode: SearchMode, doc_type: str | None,
              batch_id: str | None, limit: int, offset: int) -> tuple[int, list[SearchHit]]:
    if not state.settings.zero_shot:
        raise ApiError(422, "semantic_search_off", "Semantic search reads the embeddings made "
                       "while classifying: set DOCFLOW_ZERO_SHOT=true on the API and the "
                       "workers (documents processed before keep none), or use mode=keyword.")
    try:
        encoder = state.query_encoder()
    except EmbeddingModelMissing as exc:
        raise ApiError(503, exc.code, exc.message) from exc
    depth = offset + limit  # each ranking is read as deep as the page reaches
    with state.store.db.read() as session:
        near = embeddings.nearest(session, encoder.embed_one(q), encoder.version,
                                  doc_type=doc_type, batch_id=batch_id, limit=depth,
                                  min_similarity=MIN_SIMILARITY)
    if mode is SearchMode.SEMANTIC:
        ranked = [(n.document_id, n.similarity) for n in near.neighbours]
        return near.total, _hits(state, ranked[offset:depth], {})
    words = _any_word(q)
    keyword = (state.search_index().search(words, doc_type=doc_type, batch_id=batch_id,
                                           limit=depth)
               if words else SearchResults(total=0, hits=[]))
    ranked = reciprocal_rank_fusion([[h.id for h in keyword.hits],
                                     [n.document_id for n in near.neighbours]])
    both = {h.id for h in keyword.hits} & {n.document_id for n in near.neighbours}
    total = keyword.total + near.total - len(both)
    return total, _hits(state, ranked[offset:depth], {h.id: h for h in keyword.hits})


def _hits(state: ApiState, page: list[tuple[str, float]],
          keyword_hits: dict[str, SearchHit]) -> list[SearchHit]:
    """The page as hits: keyword hits keep their snippet, the others show their first lines."""
    missing = [ident for ident, _ in page if ident not in keyword_hits]
    with state.store.db.read() as session:
        heads = embeddings.document_heads(session, missing, SNIPPET_CHARS * 2)
    hits = []
    for ident, score in page:
        if ident in keyword_hits:
            hits.append(SearchHit(**{**vars(keyword_hits[ident]), "score": score}))
        elif ident in heads:
            head = heads[ident]
            hits.append(SearchHit(ident, head.filename, head.doc_type, score,
                                  _first_lines(head.text_start)))
    return hits


def _any_word(q: str) -> str:
    """`q` as "w1 OR w2 ...": hybrid's keyword side ranks documents by any of the words (as
    BM25 does), since a question rarely has all its words in one document; both backends read
    this syntax. Lower-cased, so no word is taken for an operator."""
    words = [w for w in _WORD.findall(q.lower()) if w not in ("and", "or", "not")]
    return " OR ".join(words)


def _first_lines(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) > SNIPPET_CHARS:
        flat = flat[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
    return html.escape(flat, quote=False)
