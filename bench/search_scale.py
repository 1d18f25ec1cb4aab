"""Search at scale: keyword and semantic latency, ANN recall, index sizes and build times.

    .venv/bin/python bench/search_scale.py                  # 500,000 documents
    .venv/bin/python bench/search_scale.py --count 100000 --cache-dir /tmp/scale

500,000 documents need ~2.2M passage vectors: ~4 GB free memory and, on 2 cores, about an hour
of graph building; 2,000,000 documents want 16 GB and a machine with more cores.

N documents are written straight to the stores (the tantivy index and the usearch vector
index), not through the upload API and the workers: this measures search, not ingestion.
Text: words drawn with their corpus frequencies from ../shared/datasets (bbc_news, cranfield),
or a small built-in vocabulary when those are absent, 60-1,500 words per document.
Vectors: embedding 500,000 real texts with MiniLM is hours of CPU here, so ~3,000 real passages
(news paragraphs, Cranfield abstracts) are embedded once (cached in --cache-dir) and each
document's passages (one per ~160 words, at most 64) are mixes of two of them plus noise, unit
length: the ANN graph sees the clustered distribution of real embeddings, not uniform noise.
Queries: real Cranfield questions embedded (their query embedding time is reported apart).
Recall@10: documents from the vector index vs exact max-sim over every passage.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from docflow.search import SearchDocument, open_index  # noqa: E402
from docflow.search.vectors import VectorDocument, best_per_document  # noqa: E402
from docflow.search.vectors_usearch import UsearchVectors  # noqa: E402

DATASETS = next((p for p in (ROOT.parent / "shared" / "datasets",
                              ROOT.parent.parent / "shared" / "datasets") if p.is_dir()),
                ROOT.parent / "shared" / "datasets")  # a worktree sits one level deeper
TYPES = ("invoice", "contract", "letter", "report", "receipt", "memo", "statement", "form")
BUILT_IN = [
    "invoice", "payment", "contract", "agreement", "party", "lease", "term", "notice", "report",
    "quarter", "revenue", "customer", "supplier", "delivery", "order", "total", "amount", "tax",
    "date", "account", "balance", "service", "repair", "warranty", "insurance", "claim",
    "policy", "premium", "schedule", "meeting", "minutes", "project", "budget", "cost",
    "estimate", "engineer", "design", "test", "result", "analysis"]
WORDS_PER_PASSAGE = 160
DIM = 384


def real_texts() -> list[str]:
    texts = []
    news = DATASETS / "bbc_news" / "train.jsonl"
    if news.is_file():
        for line in news.read_text().splitlines():
            texts += [p for p in json.loads(line)["text"].split("\n\n") if len(p) > 80]
    cranfield = DATASETS / "cranfield" / "corpus.jsonl"
    if cranfield.is_file():
        texts += [json.loads(line)["text"] for line in cranfield.read_text().splitlines()]
    return texts


def queries() -> list[str]:
    path = DATASETS / "cranfield" / "queries.jsonl"
    if path.is_file():
        return [json.loads(line)["text"] for line in path.read_text().splitlines()]
    return [" ".join(BUILT_IN[i : i + 6]) for i in range(0, len(BUILT_IN) - 6)]


def embed(texts: list[str], cache: Path, name: str) -> np.ndarray:
    path = cache / f"{name}-{len(texts)}.npy"
    if path.is_file():
        return np.load(path)
    from docflow.pipeline.classify.embeddings import SentenceEncoder

    encoder = SentenceEncoder(cache / "minilm", threads=os.cpu_count() or 1)
    started = time.process_time()
    vectors = encoder.embed(texts)
    print(f"  embedded {len(texts)} real texts in {time.process_time() - started:.0f} CPU-s "
          "(cached for the next run)")
    np.save(path, vectors)
    return vectors


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return f"p50 {p50:6.2f} ms  p95 {p95:6.2f} ms"


def timed(action, samples: list[float]):
    started = time.perf_counter()
    result = action()
    samples.append((time.perf_counter() - started) * 1000)
    return result


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) /
                        "docflow-search-scale")
    parser.add_argument("--keep", action="store_true", help="keep the indexes afterwards")
    args = parser.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)

    texts = real_texts()
    if texts:
        words = Counter(w for t in texts for w in re.findall(r"[a-z]{2,}", t.lower()))
        print(f"vocabulary: {len(words)} words from {DATASETS}")
        passages = embed(texts[:: max(1, len(texts) // 3000)][:3000], args.cache_dir, "passages")
    else:
        print(f"vocabulary: built-in ({DATASETS} not found); vectors: random, clustered")
        words = Counter({w: 1 + i for i, w in enumerate(BUILT_IN)})
        centres = rng.standard_normal((300, DIM)).astype(np.float32)
        passages = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    vocabulary = np.array(list(words))
    frequency = np.array(list(words.values()), dtype=np.float64)
    frequency /= frequency.sum()
    query_texts = queries()[: args.queries]
    query_vectors = embed(query_texts, args.cache_dir, "queries") if texts else passages[
        rng.integers(0, len(passages), args.queries)]

    work = Path(tempfile.mkdtemp(prefix="search-scale-", dir=args.cache_dir))
    keyword = open_index("tantivy", work / "index", writer=True)
    vectors = UsearchVectors(work / "vectors", writer=True, model="bench", dimension=DIM,
                             recent_limit=sys.maxsize)
    all_ids: list[str] = []
    all_vectors: list[np.ndarray] = []
    keyword_s = vector_s = 0.0
    print(f"writing {args.count} documents straight to tantivy and usearch (not through the "
          "API and workers)")
    for start in range(0, args.count, 5000):
        n = min(5000, args.count - start)
        lengths = rng.integers(60, 1500, n)
        drawn = rng.choice(len(vocabulary), size=int(lengths.sum()), p=frequency)
        cuts = np.cumsum(lengths)[:-1]
        docs, vdocs = [], []
        for i, chunk in enumerate(np.split(drawn, cuts)):
            ident = f"d{start + i:08d}"
            doc_type = TYPES[int(rng.integers(0, len(TYPES)))]
            batch = f"b{(start + i) // 2000}"
            docs.append(SearchDocument(ident, f"{ident}.txt", doc_type, batch,
                                       " ".join(vocabulary[chunk])))
            parts = min(64, max(1, len(chunk) // WORDS_PER_PASSAGE))
            mix = (passages[rng.integers(0, len(passages), parts)]
                   + 0.5 * passages[rng.integers(0, len(passages), parts)]
                   + 0.02 * rng.standard_normal((parts, DIM)).astype(np.float32))
            mix /= np.linalg.norm(mix, axis=1, keepdims=True)
            vdocs.append(VectorDocument(ident, doc_type, batch, mix.astype(np.float32)))
            all_ids += [ident] * parts
            all_vectors.append(mix.astype(np.float16))
        t = time.perf_counter()
        keyword.index(docs)
        keyword_s += time.perf_counter() - t
        t = time.perf_counter()
        vectors.index(vdocs)
        vector_s += time.perf_counter() - t
        print(f"\r  {start + n} documents", end="", flush=True)
    t = time.perf_counter()
    vectors.flush()  # the graph is built here, once (as `docflow reindex` does)
    graph_s = time.perf_counter() - t
    keyword.close()
    vectors.close()
    matrix = np.concatenate(all_vectors)
    print(f"\n  keyword index: {keyword_s:.0f} s, {size_mb(work / 'index'):.0f} MB")
    print(f"  vector index: {len(matrix)} passages; catalog {vector_s:.0f} s + graph build "
          f"{graph_s:.0f} s; {size_mb(work / 'vectors'):.0f} MB on disk")

    reader = open_index("tantivy", work / "index", writer=False)
    semantic = UsearchVectors(work / "vectors", writer=False, model="bench", dimension=DIM)
    for words_per_query in (1, 3, 8):
        samples: list[float] = []
        for _ in range(args.queries):
            q = " ".join(rng.choice(vocabulary, size=words_per_query, p=frequency))
            timed(lambda q=q: reader.search(q, limit=10), samples)
        print(f"keyword {words_per_query}-word queries: {percentiles(samples)}")
    plain: list[float] = []
    typed: list[float] = []
    recalls = []
    # Exact top passages for every query at once (usearch's brute force: SIMD, float16);
    # imported here, after vectors_usearch has loaded onnxruntime (see there).
    from usearch.index import search as usearch_search

    exact = usearch_search(matrix, query_vectors.astype(np.float16), min(2000, len(matrix)),
                           "ip", exact=True)
    for i, query in enumerate(query_vectors):
        found = timed(lambda q=query: semantic.search(q, limit=10, min_similarity=-1.0), plain)
        timed(lambda q=query, t=TYPES[i % len(TYPES)]: semantic.search(
            q, doc_type=t, limit=10, min_similarity=-1.0), typed)
        top = exact.keys[i]  # enough passages to hold the 10 best documents
        truth = best_per_document([all_ids[j] for j in top], 1 - exact.distances[i], 10, -1.0)
        expected = {n.document_id for n in truth.neighbours}
        recalls.append(len(expected & {n.document_id for n in found.neighbours}) / 10)
    print(f"semantic (vector index, query already embedded): {percentiles(plain)}")
    print(f"semantic with a doc_type filter (1 in {len(TYPES)}): {percentiles(typed)}")
    print(f"recall@10 of the vector index vs exact max-sim: {statistics.mean(recalls):.3f}")
    if texts:
        from docflow.pipeline.classify.embeddings import SentenceEncoder

        encoder = SentenceEncoder(args.cache_dir / "minilm")
        samples = []
        for q in query_texts[:50]:
            timed(lambda q=q: encoder.embed_one(q), samples)
        print(f"embedding one query (MiniLM, 1 thread): {percentiles(samples)}")
    reader.close()
    semantic.close()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
