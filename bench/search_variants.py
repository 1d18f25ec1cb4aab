"""Hybrid ranking variants, measured offline on eval_search.py's collections and cached vectors.

    .venv/bin/python bench/search_variants.py                  # cranfield and bbc
    .venv/bin/python bench/search_variants.py --sets cranfield

Which change to hybrid search is worth making? Each variant is scored on the same rankings: the
reference BM25 of eval_search.py (stemmed, stop words dropped: within 0.001 of docflow's keyword
search on Cranfield) and the documents' MiniLM vectors as the workers store them (cached by
eval_search.py; made here on first use). No index, no API: fast enough to try many variants.
Every parameter is a textbook default, none is fitted to these queries: RRF k 60 over each
ranking's top 100 (Cormack et al. 2009); score fusion as an equal-weight convex combination of
min-max normalised scores; RM3 with Anserini's defaults (10 feedback documents, 10 terms, the
original query weighted 0.5); Rocchio on the query vector with SMART's alpha 1, beta 0.75 over
10 feedback documents. Cranfield's queries are also scored in halves (odd and even ids), so a
difference can be seen to hold on both.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_search import (  # noqa: E402
    DATASETS,
    FOLDERS,
    SETS,
    Collection,
    ReferenceBM25,
    _ndcg,
    embed_collection,
    load_collection,
)

from docflow.pipeline.classify import EmbeddingModelMissing, SentenceEncoder  # noqa: E402
from docflow.search.query import STOP_WORDS  # noqa: E402

DEPTH = 100  # each ranking's depth, as hybrid search reads them (FUSION_DEPTH)
FLOOR = 0.2  # the semantic floor (MIN_SIMILARITY)
FEEDBACK_DOCS, FEEDBACK_TERMS, ORIGINAL_WEIGHT = 10, 10, 0.5  # RM3, Anserini's defaults
ROCCHIO_BETA = 0.75  # SMART's beta (alpha 1)


class Rankers:
    """BM25 over weighted terms and cosine over document or passage vectors, for one set."""

    def __init__(self, collection: Collection, whole: np.ndarray,
                 passages: list[np.ndarray]) -> None:
        self.bm25 = ReferenceBM25([text for _, text in collection.documents], stem=True)
        self.count = len(collection.documents)
        bm = self.bm25
        self.norm = bm.k1 * (1 - bm.b + bm.b * bm.lengths / bm.lengths.mean())
        self.terms: list[Counter] = [Counter() for _ in range(self.count)]
        for token, posting in bm.postings.items():
            for doc, tf in posting.items():
                self.terms[doc][token] = tf
        self.whole = whole
        self.passages = np.concatenate(passages)
        self.owner = np.concatenate([np.full(len(p), n) for n, p in enumerate(passages)])

    def query_terms(self, query: str) -> dict[str, float]:
        words = [w for w in query.split() if w.lower() not in STOP_WORDS] or query.split()
        return dict(Counter(self.bm25.analyzer.analyze(" ".join(words))))

    def keyword(self, weights: dict[str, float]) -> np.ndarray:
        scores = np.zeros(self.count)
        for token, weight in weights.items():
            posting = self.bm25.postings.get(token)
            if not posting:
                continue
            idf = math.log(1 + (self.count - len(posting) + 0.5) / (len(posting) + 0.5))
            docs = np.fromiter(posting, dtype=np.int64)
            tf = np.fromiter(posting.values(), dtype=np.float64)
            scores[docs] += weight * idf * tf * (self.bm25.k1 + 1) / (tf + self.norm[docs])
        return scores

    def semantic(self, query: np.ndarray, how: str = "passage") -> np.ndarray:
        whole = self.whole @ query
        if how == "whole":
            return whole
        sims = self.passages @ query
        best = np.full(self.count, -2.0)
        np.maximum.at(best, self.owner, sims)
        if how in ("average", "first+best+average"):
            total = np.zeros(self.count)
            np.add.at(total, self.owner, sims)
            average = total / np.maximum(np.bincount(self.owner, minlength=self.count), 1)
            return average if how == "average" else (whole + best + average) / 3
        return best if how == "passage" else (whole + best) / 2

    def rm3(self, original: dict[str, float], feedback: list[int],
            weights: list[float]) -> dict[str, float]:
        """RM3: the feedback documents' term distributions weighted by their scores, its
        FEEDBACK_TERMS best terms, interpolated with the query's own."""
        model: Counter = Counter()
        for doc, weight in zip(feedback, weights, strict=True):
            length = sum(self.terms[doc].values()) or 1
            for term, tf in self.terms[doc].items():
                if term not in STOP_WORDS and len(term) > 1 and not term.isdigit():
                    model[term] += weight * tf / length
        top = dict(model.most_common(FEEDBACK_TERMS))
        top_sum, original_sum = sum(top.values()) or 1.0, sum(original.values()) or 1.0
        mixed: Counter = Counter()
        for term, weight in original.items():
            mixed[term] += ORIGINAL_WEIGHT * weight / original_sum
        for term, weight in top.items():
            mixed[term] += (1 - ORIGINAL_WEIGHT) * weight / top_sum
        return dict(mixed)

    def rocchio(self, query: np.ndarray, feedback: list[int]) -> np.ndarray:
        if not feedback:
            return query
        moved = query + ROCCHIO_BETA * self.whole[feedback].mean(axis=0)
        return moved / np.linalg.norm(moved)


def top(scores: np.ndarray, floor: float = 1e-12) -> list[int]:
    best = np.argsort(-scores, kind="stable")[:DEPTH]
    return [int(n) for n in best if scores[n] >= floor]


def rrf(*rankings: list[int], k: int = 60) -> list[int]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + 1 / (k + rank)
    return sorted(fused, key=lambda d: -fused[d])


def convex(*ranked: tuple[list[int], np.ndarray]) -> list[int]:
    """Equal-weight sum of each ranking's min-max normalised scores (0 where a document is
    not in a ranking)."""
    fused: dict[int, float] = {}
    for ranking, scores in ranked:
        if not ranking:
            continue
        low, high = scores[ranking].min(), scores[ranking].max()
        for doc in ranking:
            part = (scores[doc] - low) / (high - low) if high > low else 1.0
            fused[doc] = fused.get(doc, 0.0) + part / len(ranked)
    return sorted(fused, key=lambda d: -fused[d])


def convex_bounded(*ranked: tuple[list[int], np.ndarray, float]) -> list[int]:
    """Equal-weight sum of each ranking's scores scaled from the least score a document can
    have there (BM25: 0; cosine: the semantic floor) to its best, so the last of a short list
    still counts (0 where a document is not in a ranking)."""
    fused: dict[int, float] = {}
    for ranking, scores, low in ranked:
        if not ranking:
            continue
        high = scores[ranking].max()
        for doc in ranking:
            part = (scores[doc] - low) / (high - low) if high > low else 1.0
            fused[doc] = fused.get(doc, 0.0) + part / len(ranked)
    return sorted(fused, key=lambda d: -fused[d])


def zscore(*ranked: tuple[list[int], np.ndarray]) -> list[int]:
    """Sum of each ranking's scores standardised over it (Montague and Aslam 2001's ZMUV),
    a document not in a ranking counted at that ranking's least."""
    parts = []
    for ranking, scores in ranked:
        if not ranking:
            continue
        values = scores[ranking]
        spread = values.std() or 1.0
        parts.append(({d: (scores[d] - values.mean()) / spread for d in ranking},
                      (values.min() - values.mean()) / spread))
    docs = list(dict.fromkeys(d for ranking, _ in ranked for d in ranking))
    fused = {d: sum(z.get(d, low) for z, low in parts) for d in docs}
    return sorted(fused, key=lambda d: -fused[d])


def variants(r: Rankers, query: str, vector: np.ndarray) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    terms = r.query_terms(query)
    ks = r.keyword(terms)
    kw = top(ks)
    out["BM25 (stemmed; ~ keyword mode)"] = kw
    for how in ("whole", "passage", "mean"):
        out[f"semantic: {how}"] = top(r.semantic(vector, how), FLOOR)
    ss = r.semantic(vector)
    sem = top(ss, FLOOR)
    for how in ("whole", "passage", "mean"):
        out[f"RRF BM25 + semantic {how}"] = rrf(kw, out[f"semantic: {how}"])
    out["convex BM25 + semantic passage"] = convex((kw, ks), (sem, ss))
    mean = r.semantic(vector, "mean")
    out["convex BM25 + semantic mean"] = convex((kw, ks), (top(mean, FLOOR), mean))
    mean_top = top(mean, FLOOR)
    out["convex mean, bounded (BM25 0, floor)"] = convex_bounded((kw, ks, 0.0),
                                                                 (mean_top, mean, FLOOR))
    # Theoretical min-max (Bruch, Gai and Ingber 2023, TM2C2): BM25 from 0, cosine from -1.
    out["convex mean, theoretical min (0, -1)"] = convex_bounded((kw, ks, 0.0),
                                                                 (mean_top, mean, -1.0))
    out["z-score BM25 + semantic mean"] = zscore((kw, ks), (mean_top, mean))
    # CombMNZ (Fox and Shaw 1994): the bounded sum times how many rankings hold the document.
    sums: Counter = Counter()
    held: Counter = Counter()
    for ranking, scores, low in ((kw, ks, 0.0), (mean_top, mean, FLOOR)):
        high = scores[ranking].max() if ranking else low
        for doc in ranking:
            sums[doc] += (scores[doc] - low) / (high - low) if high > low else 1.0
            held[doc] += 1
    out["CombMNZ bounded"] = sorted(sums, key=lambda d: -sums[d] * held[d])
    for how in ("average", "first+best+average"):
        agg = r.semantic(vector, how)
        out[f"semantic: {how}"] = top(agg, FLOOR)
        out[f"convex bounded, semantic {how}"] = convex_bounded((kw, ks, 0.0),
                                                                (top(agg, FLOOR), agg, FLOOR))
    whole = r.semantic(vector, "whole")
    out["convex bounded: BM25, first, best (1/3 each)"] = convex_bounded(
        (kw, ks, 0.0), (top(whole, FLOOR), whole, FLOOR), (sem, ss, FLOOR))
    bf = convex_bounded((kw, ks, 0.0), (mean_top, mean, FLOOR))[:FEEDBACK_DOCS]
    bks = r.keyword(r.rm3(terms, bf, [1.0] * len(bf)))
    bmean = r.semantic(r.rocchio(vector, bf), "mean")
    out["bounded feedback: RM3 + Rocchio"] = convex_bounded((top(bks), bks, 0.0),
                                                            (top(bmean, FLOOR), bmean, FLOOR))
    out["bounded feedback: Rocchio only"] = convex_bounded((kw, ks, 0.0),
                                                           (top(bmean, FLOOR), bmean, FLOOR))
    # The semantic score of every keyword candidate known too (read from its stored vectors).
    known = list(dict.fromkeys(mean_top + [d for d in kw if mean[d] >= FLOOR]))
    out["convex mean, semantic of all candidates"] = convex((kw, ks), (known, mean))
    out["convex mean bounded, semantic of all"] = convex_bounded((kw, ks, 0.0),
                                                                 (known, mean, FLOOR))
    # Feedback from the convex-fused ranking: its top 10 feed both sides, then fuse again.
    fused = convex((kw, ks), (mean_top, mean))
    cf = fused[:FEEDBACK_DOCS]
    cks = r.keyword(r.rm3(terms, cf, [1.0] * len(cf)))
    cmean = r.semantic(r.rocchio(vector, cf), "mean")
    ck, cm = top(cks), top(cmean, FLOOR)
    out["convex feedback: RM3 + Rocchio, convex"] = convex((ck, cks), (cm, cmean))
    out["convex feedback: RM3 only, convex"] = convex((ck, cks), (mean_top, mean))
    out["convex feedback: Rocchio only, convex"] = convex((kw, ks), (cm, cmean))
    out["convex feedback: RM3 + orig BM25 + sem"] = convex((kw, ks), (ck, cks),
                                                           (mean_top, mean))
    rm3s = r.keyword(r.rm3(terms, kw[:FEEDBACK_DOCS], list(ks[kw[:FEEDBACK_DOCS]])))
    rm3 = top(rm3s)
    out["BM25+RM3"] = rm3
    out["RRF BM25+RM3, semantic"] = rrf(rm3, sem)
    rocs = r.semantic(r.rocchio(vector, sem[:FEEDBACK_DOCS]))
    roc = top(rocs, FLOOR)
    out["semantic+Rocchio"] = roc
    out["RRF BM25, semantic+Rocchio"] = rrf(kw, roc)
    out["RRF BM25+RM3, semantic+Rocchio"] = rrf(rm3, roc)
    # Feedback from the hybrid ranking itself: its top 10 feed both sides, then fuse again.
    feedback = rrf(kw, sem)[:FEEDBACK_DOCS]
    hks = r.keyword(r.rm3(terms, feedback, [1.0] * len(feedback)))
    hss = r.semantic(r.rocchio(vector, feedback))
    hk, hs = top(hks), top(hss, FLOOR)
    out["hybrid feedback: RM3 alone"] = hk
    out["hybrid feedback: Rocchio alone"] = hs
    out["hybrid feedback: RRF both"] = rrf(hk, hs)
    out["hybrid feedback: convex both"] = convex((hk, hks), (hs, hss))
    return out


def judge(collection: Collection, cache_dir: Path) -> None:
    encoder = SentenceEncoder(cache_dir)
    embedded = embed_collection(encoder, collection, cache_dir)
    rankers = Rankers(collection, embedded.whole, embedded.passages)
    ids = [ident for ident, _ in collection.documents]
    scores: dict[str, dict[str, float]] = {}
    recalls: dict[str, dict[str, float]] = {}
    for query_id, relevant in collection.qrels.items():
        query = collection.queries[query_id]
        for name, ranking in variants(rankers, query, encoder.embed_one(query)).items():
            ranked = [ids[n] for n in ranking]
            scores.setdefault(name, {})[query_id] = _ndcg(ranked, relevant)
            recalls.setdefault(name, {})[query_id] = (len(set(ranked[:100]) & relevant)
                                                      / len(relevant))
    queries = list(collection.qrels)
    halves: list[tuple[str, Callable[[str], bool]]] = []
    if all(q.isdigit() for q in queries):
        halves = [("odd", lambda q: int(q) % 2 == 1), ("even", lambda q: int(q) % 2 == 0)]
    print(f"{collection.name} ({collection.about}): {len(ids)} documents, "
          f"{len(queries)} queries")
    print(f"{'variant':<36}{'nDCG@10':>8}" + "".join(f"{h:>7}" for h, _ in halves)
          + f"{'R@100':>7}")
    for name, per_query in scores.items():
        parts = "".join(f"{statistics.mean(v for q, v in per_query.items() if keep(q)):>7.3f}"
                        for _, keep in halves)
        print(f"{name:<36}{statistics.mean(per_query.values()):>8.3f}{parts}"
              f"{statistics.mean(recalls[name].values()):>7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--datasets", type=Path, default=DATASETS,
                        help="the folder holding cranfield/ and bbc_news/")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) /
                        "docflow-bench-models", help="eval_search.py's model and vector cache")
    args = parser.parse_args()
    for name in (n for n in args.sets.split(",") if n):
        collection = load_collection(name, args.datasets / FOLDERS[name])
        if collection is None:
            print(f"{name}: skipped (dataset not found)")
            continue
        try:
            judge(collection, args.cache_dir)
        except EmbeddingModelMissing as exc:
            print(f"{name}: skipped ({exc})")


if __name__ == "__main__":
    main()
