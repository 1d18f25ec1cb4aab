"""Search quality and cost: keyword, semantic (stored MiniLM embeddings) and hybrid.

    .venv/bin/python bench/eval_search.py                    # Cranfield, then brute-force timing
    .venv/bin/python bench/eval_search.py --scale 20000,100000 --cache-dir DIR

Quality: ../shared/datasets/cranfield (1,400 abstracts, 225 queries with relevance judgements)
is stored as completed documents in a fresh SQLite store with their embeddings (as the workers
store them with DOCFLOW_ZERO_SHOT), indexed in tantivy, and every query is asked through the
real API (`GET /api/search?mode=...`), so the numbers include the API's own query handling:
nDCG@10 and recall@100 per mode, the CPU cost of a query, and the cosine similarities of judged
relevant and unjudged pairs (what the semantic floor MIN_SIMILARITY cuts). Skipped with a
message when the dataset is absent.
Cost: `nearest` (the brute-force scan over stored vectors) on N random vectors in SQLite.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from docflow.config import Settings  # noqa: E402
from docflow.pipeline.classify import EmbeddingModelMissing, SentenceEncoder  # noqa: E402
from docflow.search import open_index  # noqa: E402
from docflow.store import Document, DocumentStatus, Extraction, open_store  # noqa: E402
from docflow.store.embeddings import nearest, vector_bytes  # noqa: E402
from docflow.worker.indexer import index_pending  # noqa: E402
from docflow.worker.training import embedding_model_dir  # noqa: E402

CRANFIELD = ROOT.parent / "shared" / "datasets" / "cranfield"
MODES = ("keyword", "semantic", "hybrid")


def _store_corpus(settings: Settings, encoder: SentenceEncoder,
                  corpus: list[dict]) -> tuple[dict[str, str], np.ndarray, float]:
    store = open_store(settings, migrate=True)
    texts = [f"{d['title']}\n{d['text']}" for d in corpus]
    started = time.process_time()
    vectors = encoder.embed(texts)
    embed_cpu = time.process_time() - started
    ids = {}
    with store.db.write() as session:
        for doc, text, vector in zip(corpus, texts, vectors, strict=True):
            sha = f"{int(doc['_id']):064d}"
            session.add(Extraction(sha256=sha, format="text", mime_type="text/plain", text=text,
                                   pages=[], page_count=1))
            row = Document(filename=f"cran-{doc['_id']}.txt", sha256=sha, size=len(text),
                           status=DocumentStatus.COMPLETED, doc_type="report",
                           embedding=vector_bytes(vector), embedding_model=encoder.version)
            session.add(row)
            session.flush()
            ids[row.id] = doc["_id"]
    with open_index("tantivy", settings.index_dir, writer=True) as index:
        while index_pending(store, index, 500):
            pass
    store.db.dispose()
    return ids, vectors, embed_cpu


def _ndcg(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    gain = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return gain / ideal if ideal else 0.0


def eval_cranfield(cache_dir: Path) -> None:
    if not (CRANFIELD / "corpus.jsonl").is_file():
        print(f"cranfield: skipped ({CRANFIELD} not found)")
        return
    from fastapi.testclient import TestClient

    from docflow.api.app import create_app

    corpus = [json.loads(line) for line in (CRANFIELD / "corpus.jsonl").open()]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (CRANFIELD / "queries.jsonl").open())}
    qrels: dict[str, set[str]] = defaultdict(set)
    for line in (CRANFIELD / "qrels.tsv").read_text().splitlines()[1:]:
        query_id, corpus_id, score = line.split("\t")
        if int(score) > 0:
            qrels[query_id].add(corpus_id)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), zero_shot=True)
        embedding_model_dir(settings).parent.mkdir(parents=True)
        embedding_model_dir(settings).symlink_to(cache_dir.resolve())
        encoder = SentenceEncoder(cache_dir)
        ids, vectors, embed_cpu = _store_corpus(settings, encoder, corpus)
        print(f"cranfield: {len(corpus)} documents embedded in {embed_cpu:.1f} CPU-s "
              f"({1000 * embed_cpu / len(corpus):.1f} ms each), {len(qrels)} judged queries")
        position = {doc["_id"]: n for n, doc in enumerate(corpus)}
        relevant_sims, other_sims = [], []
        results: dict[str, list[tuple[float, float, float, int]]] = defaultdict(list)
        with TestClient(create_app(settings, configure_logs=False)) as client:
            for query_id, relevant in qrels.items():
                query = queries[query_id]
                sims = vectors @ encoder.embed_one(query)
                relevant_sims += [float(sims[position[d]]) for d in relevant if d in position]
                other_sims += [float(s) for n, s in enumerate(sims)
                               if corpus[n]["_id"] not in relevant]
                for mode in MODES:
                    started = time.process_time()
                    reply = client.get("/api/search", params={"q": query, "mode": mode,
                                                              "limit": 100})
                    cpu = time.process_time() - started
                    ranked = [ids[h["id"]] for h in reply.json()["hits"]]
                    recall = len(set(ranked) & relevant) / len(relevant)
                    results[mode].append((_ndcg(ranked, relevant), recall, cpu, len(ranked)))
    print(f"{'mode':<10}{'nDCG@10':>9}{'R@100':>8}{'no hit':>8}{'ms/query (CPU)':>16}")
    for mode in MODES:
        rows = results[mode]
        empty = sum(1 for r in rows if r[3] == 0)
        print(f"{mode:<10}{statistics.mean(r[0] for r in rows):>9.3f}"
              f"{statistics.mean(r[1] for r in rows):>8.3f}{empty:>8}"
              f"{1000 * statistics.mean(r[2] for r in rows):>16.1f}")
    for name, values in (("relevant", relevant_sims), ("unjudged", other_sims)):
        p = np.percentile(values, [5, 25, 50, 75, 95]).round(3)
        print(f"cosine of {name} pairs: p5 {p[0]} p25 {p[1]} p50 {p[2]} p75 {p[3]} p95 {p[4]}")


def time_brute_force(sizes: list[int]) -> None:
    rng = np.random.default_rng(0)
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(Settings(data_dir=Path(tmp)), migrate=True)
            with store.db.write() as session:
                for start in range(0, size, 10_000):
                    count = min(10_000, size - start)
                    block = rng.normal(size=(count, 384)).astype(np.float32)
                    block /= np.linalg.norm(block, axis=1, keepdims=True)
                    session.bulk_insert_mappings(Document, [
                        {"id": f"{start + n:032d}", "filename": "x", "sha256": "0" * 64,
                         "size": 1, "status": DocumentStatus.COMPLETED, "doc_type": "report",
                         "task_id": f"{start + n:036d}", "embedding": vector_bytes(v),
                         "embedding_model": "m"} for n, v in enumerate(block)])
            query = block[0]
            cpu = []
            for _ in range(3):
                with store.db.read() as session:
                    started = time.process_time()
                    found = nearest(session, query, "m", limit=20)
                    cpu.append(time.process_time() - started)
            assert found.neighbours[0].similarity > 0.99
            store.db.dispose()
            print(f"nearest over {size:>7} stored vectors (SQLite): "
                  f"{1000 * min(cpu):.0f} ms CPU per query")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) /
                        "docflow-bench-models", help="where the ONNX model is converted once")
    parser.add_argument("--scale", default="10000,50000",
                        help="comma-separated vector counts for the brute-force timing")
    args = parser.parse_args()
    try:
        eval_cranfield(args.cache_dir)
    except EmbeddingModelMissing as exc:
        print(f"cranfield: skipped ({exc})")
    time_brute_force([int(n) for n in args.scale.split(",") if n])


if __name__ == "__main__":
    main()
