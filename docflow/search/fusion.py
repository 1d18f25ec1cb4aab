"""Fusing rankings into one by their scores (what hybrid search does).

Score fusion is a convex combination, equal weights, of each ranking's scores scaled to 0..1
from the least score a document can have in it to the best it holds (theoretical min-max,
Bruch, Gai and Ingber 2023): BM25 from 0, a similarity from the floor below which semantic
search counts no match. A document's fused score is the mean over the rankings, 0 counted for
one it is not in. Unlike rank fusion it keeps how far apart the scores are: a document far
ahead by words and middling by meaning beats one narrowly first by meaning only. Scaling from
the list's own least score instead (Lee 1997) would put the last of every list at 0, so in a
list of two the second counts for nothing (and it measured lower: bench/search_variants.py).
Through the API, nDCG@10 Cranfield / BBC known-item: 0.578 / 0.895, against reciprocal rank
fusion's 0.565 / 0.877 (bench/eval_search.py), which hybrid search used before.
"""

from __future__ import annotations

from collections.abc import Sequence


def score_fusion(rankings: Sequence[tuple[Sequence[tuple[str, float]], float]]
                 ) -> list[tuple[str, float]]:
    """(id, fused score in 0..1), best first, from (ranking, least score) pairs: each ranking
    (id, score), best first, and the least score a document can have in it. An empty ranking
    still counts in the mean (its part is 0 for every document). Ties go to the id seen first,
    in the first ranking first."""
    fused: dict[str, float] = {}
    for ranking, least in rankings:
        if not ranking:
            continue
        best = max(score for _, score in ranking)
        for ident, score in ranking:
            part = (score - least) / (best - least) if best > least else 1.0
            fused[ident] = fused.get(ident, 0.0) + part / len(rankings)
    seen = {ident: n for n, ident in enumerate(fused)}
    return sorted(fused.items(), key=lambda item: (-item[1], seen[item[0]]))

