"""Keyword, semantic and hybrid search over one index and the stored embeddings, for the API
and the `docflow search` command alike.

Keyword hits come from the search index (tantivy or PostgreSQL). Semantic hits come from the
embeddings the workers stored while classifying (DOCFLOW_ZERO_SHOT); only the query is
embedded, once per search. Hybrid fuses both rankings by reciprocal rank.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from docflow.search import SearchHit, SearchIndex, SearchMode, SearchResults, check_page
from docflow.search.fusion import reciprocal_rank_fusion
from docflow.store import embeddings
from docflow.store.db import Database

if TYPE_CHECKING:
    from docflow.pipeline.classify.embeddings import SentenceEncoder

# Below this cosine similarity a document is not counted as a semantic match (MiniLM puts
# unrelated texts at -0.1..0.15; a query and a document about the same thing at 0.3 and above).
MIN_SIMILARITY = 0.2
SNIPPET_CHARS = 200
_WORD = re.compile(r"\w+")


class SemanticSearchOff(Exception):
    code = "semantic_search_off"
    message = ("Semantic search reads the embeddings made while classifying: set "
               "DOCFLOW_ZERO_SHOT=true on the API and the workers (documents processed before "
               "keep none), or search by keyword.")


@dataclass(frozen=True)
class Found:
    total: int
    hits: list[SearchHit]


def search(index: SearchIndex, db: Database, q: str, mode: SearchMode, *,
           doc_type: str | None = None, batch_id: str | None = None, limit: int = 20,
           offset: int = 0, zero_shot: bool = False,
           encoder: Callable[[], SentenceEncoder] | None = None) -> Found:
    """One page of hits. Semantic and hybrid need `zero_shot` (else SemanticSearchOff) and an
    `encoder` loader (it raises EmbeddingModelMissing when the weights are not installed).
    A page past MAX_SEARCH_DEPTH raises SearchDepthExceeded, in every mode."""
    check_page(limit, offset)
    if mode is SearchMode.KEYWORD:
        results = index.search(q, doc_type=doc_type, batch_id=batch_id, limit=limit,
                               offset=offset)
        return Found(results.total, results.hits)
    if not zero_shot or encoder is None:
        raise SemanticSearchOff
    model = encoder()
    depth = offset + limit  # each ranking is read as deep as the page reaches
    with db.read() as session:
        near = embeddings.nearest(session, model.embed_one(q), model.version,
                                  doc_type=doc_type, batch_id=batch_id, limit=depth,
                                  min_similarity=MIN_SIMILARITY)
    if mode is SearchMode.SEMANTIC:
        ranked = [(n.document_id, n.similarity) for n in near.neighbours]
        return Found(near.total, _hits(db, ranked[offset:depth], {}))
    words = _any_word(q)
    keyword = (index.search(words, doc_type=doc_type, batch_id=batch_id, limit=depth)
               if words else SearchResults(total=0, hits=[]))
    ranked = reciprocal_rank_fusion([[h.id for h in keyword.hits],
                                     [n.document_id for n in near.neighbours]])
    both = {h.id for h in keyword.hits} & {n.document_id for n in near.neighbours}
    total = keyword.total + near.total - len(both)
    return Found(total, _hits(db, ranked[offset:depth], {h.id: h for h in keyword.hits}))


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
