"""Reciprocal rank fusion: one ranking from several, by rank alone (scores need not compare).

A document's fused score is the sum over the rankings it appears in of 1 / (k + rank), rank
counted from 1 (Cormack, Clarke and Buettcher, SIGIR 2009). k = 60 damps the head of each list so
a document ranked well by both beats one ranked first by only one.
"""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]],
                           k: int = RRF_K) -> list[tuple[str, float]]:
    """(id, fused score), best first; ties go to the id seen first, in the first ranking first."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, ident in enumerate(ranking, start=1):
            scores[ident] = scores.get(ident, 0.0) + 1.0 / (k + rank)
    seen = {ident: n for n, ident in enumerate(scores)}
    return sorted(scores.items(), key=lambda item: (-item[1], seen[item[0]]))
