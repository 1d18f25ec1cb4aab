"""Keyword, semantic and hybrid search over one index and the stored embeddings, for the API
and the `docflow search` command alike.

Keyword hits come from the search index (tantivy or PostgreSQL). Semantic hits come from the
passage embeddings the workers stored while classifying (DOCFLOW_ZERO_SHOT), through the vector
index (docflow.search.vectors), or one by one from the database where there is none yet; only
the query is embedded, once per search. Hybrid fuses both rankings by their scores
(docflow.search.fusion): BM25 without keyword search's tier bonus, and each document's
similarity as the mean of its first passage's and its best passage's (the best alone lets one
passage of a long document that happens to resemble the query outrank what a whole document is
about).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from docflow.pipeline.classify.embeddings import EmbeddingModelMissing
from docflow.search import (
    SearchFilters,
    SearchHit,
    SearchIndex,
    SearchMode,
    SearchResults,
    SearchSort,
    check_page,
)
from docflow.search.fusion import score_fusion
from docflow.search.query import read_query
from docflow.search.vectors import Nearest, VectorIndex, VectorIndexError
from docflow.store import embeddings
from docflow.store.db import Database

if TYPE_CHECKING:
    from docflow.pipeline.classify.embeddings import SentenceEncoder

log = logging.getLogger(__name__)

# Below this cosine similarity a document is not counted as a semantic match (MiniLM puts
# unrelated texts at -0.1..0.15; a query and a document about the same thing at 0.3 and above).
MIN_SIMILARITY = 0.2
# How deep hybrid reads each ranking at least before fusing them (Cranfield nDCG@10 of the
# fused top 10: 0.559 reading 20 deep, 0.567 reading 100, 0.567 reading 1,000).
FUSION_DEPTH = 100
SNIPPET_CHARS = 200


class SemanticSearchOff(Exception):
    code = "semantic_search_off"
    message = ("Semantic search reads the embeddings the workers make: set "
               "DOCFLOW_SEMANTIC_SEARCH=true (the default) or DOCFLOW_ZERO_SHOT=true on the API "
               "and the workers (documents processed before keep none; `docflow reindex` does "
               "not embed them), or search by keyword.")


class SortNeedsKeyword(Exception):
    code = "sort_needs_keyword"
    message = ("Semantic and hybrid search rank by meaning; sort=date and sort=date_asc order "
               "keyword matches (mode=keyword, or leave mode out).")


@dataclass(frozen=True)
class Found:
    total: int
    hits: list[SearchHit]
    mode: SearchMode = SearchMode.KEYWORD  # the mode that answered (the default resolved)
    # Matches per document type (keyword: every match; hybrid: its keyword side's matches;
    # semantic, or not asked for: None).
    doc_types: dict[str, int] | None = None
    # The keyword side stopped counting at its part of `total` (SearchResults' own flag).
    total_is_lower_bound: bool = False


def default_mode(embeddings_on: bool) -> SearchMode:
    """Hybrid where documents are embedded (nDCG@10 hybrid / keyword / semantic: Cranfield
    0.578 / 0.526 / 0.505, BBC known-item 0.895 / 0.851 / 0.824, bench/eval_search.py), else
    keyword."""
    return SearchMode.HYBRID if embeddings_on else SearchMode.KEYWORD


def search(index: SearchIndex, db: Database, q: str, mode: SearchMode | None, *,
           doc_type: str | None = None, batch_id: str | None = None,
           filters: SearchFilters | None = None, sort: SearchSort = SearchSort.RELEVANCE,
           facets: bool = False, limit: int = 20, offset: int = 0, zero_shot: bool = False,
           encoder: Callable[[], SentenceEncoder] | None = None,
           vectors: VectorIndex | None = None) -> Found:
    """One page of hits. Semantic and hybrid need `zero_shot` (else SemanticSearchOff) and an
    `encoder` loader (it raises EmbeddingModelMissing when the weights are not installed);
    `vectors` is the vector index (None: compare every stored vector; so are they where a
    path or date filter is set, which the vector indexes do not hold). `mode=None` is the
    default: hybrid where embeddings are on and the model loads, else keyword, and keyword
    whenever `sort` is by date (semantic and hybrid raise SortNeedsKeyword for it). A page past
    MAX_SEARCH_DEPTH raises SearchDepthExceeded, in every mode."""
    check_page(limit, offset)
    filters = (filters or SearchFilters()).merged(doc_type, batch_id)
    if sort is not SearchSort.RELEVANCE:
        if mode not in (None, SearchMode.KEYWORD):
            raise SortNeedsKeyword
        mode = SearchMode.KEYWORD
    if mode is None:
        mode = default_mode(zero_shot and encoder is not None)
        if mode is SearchMode.HYBRID:
            try:
                encoder()  # type: ignore[misc]
            except EmbeddingModelMissing:  # not asked for by name: answer by keyword
                mode = SearchMode.KEYWORD
    if mode is SearchMode.KEYWORD:
        results = index.search(q, filters=filters, sort=sort, facets=facets, limit=limit,
                               offset=offset)
        return Found(results.total, results.hits, mode, results.doc_types,
                     results.total_is_lower_bound)
    if not zero_shot or encoder is None:
        raise SemanticSearchOff
    model = encoder()
    depth = offset + limit  # each ranking is read as deep as the page reaches
    # Hybrid reads both at least FUSION_DEPTH deep, so a page's order does not depend on its
    # size, and page 2 neither repeats nor skips what page 1 showed.
    read = depth if mode is SearchMode.SEMANTIC else max(depth, FUSION_DEPTH)
    query = model.embed_one(q)
    near = _nearest(db, vectors, query, model.version, filters, read)
    if mode is SearchMode.SEMANTIC:
        ranked = [(n.document_id, n.similarity) for n in near.neighbours]
        return Found(near.total, _hits(db, ranked[offset:depth], {}), mode)
    # The keyword ranking by BM25 alone over any of the words: the tiers' bonus would swamp
    # the scores fused. "*" lists documents in no order, which is no ranking to fuse.
    keyword = (SearchResults(total=0, hits=[], doc_types={} if facets else None)
               if read_query(q).everything
               else index.search(q, filters=filters, facets=facets, limit=read, tiers=False))
    ranked = score_fusion([([(h.id, h.score) for h in keyword.hits], 0.0),
                           (_first_and_best(db, near, query, model.version), MIN_SIMILARITY)])
    both = {h.id for h in keyword.hits} & {n.document_id for n in near.neighbours}
    total = keyword.total + near.total - len(both)
    return Found(total, _hits(db, ranked[offset:depth], {h.id: h for h in keyword.hits}), mode,
                 keyword.doc_types, keyword.total_is_lower_bound)


def _first_and_best(db: Database, near: Nearest, query: np.ndarray,
                    model: str) -> list[tuple[str, float]]:
    """The semantic ranking hybrid fuses: each neighbour scored by the mean of its first
    passage's similarity and its best passage's, best first (floored as semantic search is)."""
    ids = [n.document_id for n in near.neighbours]
    with db.read() as session:
        first = embeddings.first_passage_similarities(session, ids, query, model)
    scored = [(n.document_id, (first.get(n.document_id, n.similarity) + n.similarity) / 2)
              for n in near.neighbours]
    return sorted((item for item in scored if item[1] >= MIN_SIMILARITY),
                  key=lambda item: -item[1])


_fallback_logged: set[str] = set()


def _nearest(db: Database, vectors: VectorIndex | None, query: np.ndarray, model: str,
             filters: SearchFilters, limit: int) -> Nearest:
    """The documents nearest `query`: from the vector index, else one by one from the store
    (which alone knows paths and dates)."""
    if vectors is not None and vectors.model == model and not filters.beyond_type_and_batch:
        try:
            return vectors.search(query, doc_type=filters.doc_type, batch_id=filters.batch_id,
                                  limit=limit, min_similarity=MIN_SIMILARITY)
        except VectorIndexError as exc:
            if exc.message not in _fallback_logged:  # once per reason, not once per query
                _fallback_logged.add(exc.message)
                log.warning("%s Searching the stored vectors one by one meanwhile.", exc.message)
    with db.read() as session:
        return embeddings.nearest(session, query, model, doc_type=filters.doc_type,
                                  batch_id=filters.batch_id, path_prefix=filters.path_prefix,
                                  created_from=filters.created_from,
                                  created_before=filters.created_before, limit=limit,
                                  min_similarity=MIN_SIMILARITY)


def _hits(db: Database, page: list[tuple[str, float]],
          keyword_hits: dict[str, SearchHit]) -> list[SearchHit]:
    """The page as hits: keyword hits keep their snippet, the others show their first lines."""
    missing = [ident for ident, _ in page if ident not in keyword_hits]
    with db.read() as session:
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


def _first_lines(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) > SNIPPET_CHARS:
        flat = flat[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
    return html.escape(flat, quote=False)
