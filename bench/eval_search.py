"""Search quality and cost: keyword, semantic (stored MiniLM embeddings) and hybrid.

    .venv/bin/python bench/eval_search.py                    # both sets, then brute-force timing
    .venv/bin/python bench/eval_search.py --sets bbc --scale ""
    .venv/bin/python bench/eval_search.py --scale 20000,100000 --cache-dir DIR
    .venv/bin/python bench/eval_search.py --scale "" --backend postgres --modes keyword

Quality, on two test collections (`--sets`; each skipped with a message when absent):
- cranfield: ../shared/datasets/cranfield (1,400 aeronautics abstracts, 225 queries judged by
  people; --cranfield DIR elsewhere), topical search;
- bbc: ../shared/datasets/bbc_news (--bbc DIR) as a known-item set built here: each article's
  headline (its first line) is a query, and the article without its headline is the one
  relevant document (repeated bodies dropped, headlines shared by several articles not asked).
The documents are stored as completed ones in a fresh SQLite store (or, with --backend
postgres, a fresh PostgreSQL database the bench creates and drops) with their embedding and
passage vectors as the workers make them (cached in --cache-dir by the texts: embedding is the
slow part), indexed in the keyword backend, and every query is asked through the real API
(`GET /api/search?mode=...`), so the numbers include the API's own query handling: nDCG@10 and
recall@100 per mode, the CPU cost of a query, and the cosine similarities of relevant and other
pairs (what the semantic floor MIN_SIMILARITY cuts). Two reference BM25 rankings, written out
in this file and measured in the same run, are the baseline: plain (lower-cased words) and
stemmed (docflow's tokens and stop words).
Cost: `nearest` (the brute-force scan over stored vectors) on N random vectors in SQLite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from docflow.config import Settings  # noqa: E402
from docflow.pipeline.classify import EmbeddingModelMissing, SentenceEncoder  # noqa: E402
from docflow.search import open_index  # noqa: E402
from docflow.search.query import STOP_WORDS  # noqa: E402
from docflow.store import Document, DocumentStatus, Extraction, open_store  # noqa: E402
from docflow.store.embeddings import nearest, passages_bytes, vector_bytes  # noqa: E402
from docflow.store.models import utcnow  # noqa: E402
from docflow.worker.indexer import index_pending  # noqa: E402
from docflow.worker.training import embedding_model_dir  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
MODES = ("keyword", "semantic", "hybrid")
SETS = ("cranfield", "bbc")
FOLDERS = {"cranfield": "cranfield", "bbc": "bbc_news"}  # each set's folder in DATASETS


@dataclass(frozen=True)
class Collection:
    """A test collection: documents (id, text), queries (id, text), and each query's relevant
    document ids."""

    name: str
    documents: list[tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, set[str]]
    about: str


def load_cranfield(folder: Path) -> Collection | None:
    """Cranfield in BEIR layout: 1,400 aeronautics abstracts (title + text), 225 queries, every
    judged pair relevant."""
    if not (folder / "corpus.jsonl").is_file():
        return None
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").open()]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (folder / "queries.jsonl").open())}
    qrels: dict[str, set[str]] = defaultdict(set)
    for line in (folder / "qrels.tsv").read_text().splitlines()[1:]:
        query_id, corpus_id, score = line.split("\t")
        if int(score) > 0:
            qrels[query_id].add(corpus_id)
    return Collection("cranfield", [(d["_id"], f"{d['title']}\n{d['text']}") for d in corpus],
                      {q: queries[q] for q in qrels}, dict(qrels),
                      "topical, judged by people")


def load_bbc_known_item(folder: Path) -> Collection | None:
    """BBC news as a known-item set: each article's headline (its first line) is the query,
    the article without its headline the one relevant document. Articles whose body repeats an
    earlier one are dropped, and so are the queries of headlines that several articles share
    (their answer is ambiguous)."""
    source = folder / "train.jsonl"
    if not source.is_file():
        return None
    documents: list[tuple[str, str]] = []
    bodies: set[str] = set()
    headlines: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in map(json.loads, source.open()):
        headline, _, body = row["text"].strip().partition("\n")
        body = body.strip()
        if not body or body in bodies:
            continue
        bodies.add(body)
        documents.append((row["id"], body))
        headlines[headline.strip().lower()].append((row["id"], headline.strip()))
    queries = {ident: text for same in headlines.values() if len(same) == 1
               for ident, text in same}
    return Collection("bbc", documents, queries, {q: {q} for q in queries},
                      "known-item: headline -> its article without the headline")


def load_collection(name: str, folder: Path | None) -> Collection | None:
    folder = folder or DATASETS / FOLDERS[name]
    return load_cranfield(folder) if name == "cranfield" else load_bbc_known_item(folder)


@dataclass(frozen=True)
class Embedded:
    """Each document's embedding and passages, as the workers make them."""

    whole: np.ndarray  # float32 [documents, 384]
    passages: list[np.ndarray]  # float32 [passages, 384] per document
    cpu: float  # CPU seconds the embedding took (when it was made, cached or not)


def embed_collection(encoder: SentenceEncoder, collection: Collection,
                     cache_dir: Path) -> Embedded:
    """The documents embedded as a worker embeds them (`embed`, then `embed_passages` from it),
    cached in `cache_dir` by the texts and the encoder version (embedding is the slow part)."""
    digest = hashlib.sha256(encoder.version.encode())
    for ident, text in collection.documents:
        digest.update(f"{ident}\0{text}\0".encode())
    path = cache_dir / f"embeddings-{collection.name}-{digest.hexdigest()[:16]}.npz"
    if path.is_file():
        cached = np.load(path)
        owners = cached["owner"]
        return Embedded(cached["whole"], [cached["passages"][owners == n]
                                          for n in range(len(cached["whole"]))],
                        float(cached["cpu"]))
    started = time.process_time()
    texts = [text for _, text in collection.documents]
    whole = encoder.embed(texts)
    passages = [encoder.embed_passages(text, whole=vector) for text, vector in zip(texts, whole,
                                                                                   strict=True)]
    cpu = time.process_time() - started
    cache_dir.mkdir(parents=True, exist_ok=True)
    owner = np.concatenate([np.full(len(p), n) for n, p in enumerate(passages)])
    np.savez(path, whole=whole, passages=np.concatenate(passages), owner=owner, cpu=cpu)
    return Embedded(whole, passages, cpu)


def _store_corpus(settings: Settings, encoder: SentenceEncoder, collection: Collection,
                  embedded: Embedded) -> dict[str, str]:
    """The documents as completed ones with their vectors, indexed; {docflow id: corpus id}."""
    store = open_store(settings, migrate=True)
    ids = {}
    with store.db.write() as session:
        for n, ((ident, text), vector, passages) in enumerate(zip(
                collection.documents, embedded.whole, embedded.passages, strict=True)):
            sha = f"{n:064d}"
            session.add(Extraction(sha256=sha, format="text", mime_type="text/plain", text=text,
                                   pages=[], page_count=1))
            row = Document(filename=f"{collection.name}-{ident.replace('/', '-')}.txt",
                           sha256=sha, size=len(text), status=DocumentStatus.COMPLETED,
                           doc_type="report",
                           finished_at=utcnow(),  # the indexer marks only finished ones indexed
                           embedding=vector_bytes(vector), passages=passages_bytes(passages),
                           embedding_model=encoder.version)
            session.add(row)
            session.flush()
            ids[row.id] = ident
    with open_index(settings.search, settings.index_dir, writer=True,
                    database_url=settings.sqlalchemy_url) as index:
        while index_pending(store, index, 500):
            pass
    store.db.dispose()
    return ids


def _ndcg(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    gain = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return gain / ideal if ideal else 0.0


class ReferenceBM25:
    """Okapi BM25 (k1 1.2, b 0.75, Lucene's idf) over one body of text per document, written
    out here as the baseline keyword search is judged against. `stem`: tokens through
    tantivy's en_stem analyzer and the query's English stop words dropped, as docflow's keyword
    search does; otherwise lower-cased words only (a plain BM25)."""

    def __init__(self, texts: list[str], *, stem: bool, k1: float = 1.2, b: float = 0.75):
        import tantivy

        builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()) \
            .filter(tantivy.Filter.remove_long(40)).filter(tantivy.Filter.lowercase())
        if stem:
            builder = builder.filter(tantivy.Filter.stemmer("english"))
        self.analyzer, self.stem, self.k1, self.b = builder.build(), stem, k1, b
        docs = [self.analyzer.analyze(text) for text in texts]
        self.lengths = np.array([len(d) for d in docs], dtype=np.float64)
        self.postings: dict[str, dict[int, int]] = defaultdict(dict)
        for n, tokens in enumerate(docs):
            for token in tokens:
                self.postings[token][n] = self.postings[token].get(n, 0) + 1

    def rank(self, query: str, depth: int = 100) -> list[int]:
        words = query.split()
        if self.stem:
            words = [w for w in words if w.lower() not in STOP_WORDS] or words
        scores = np.zeros(len(self.lengths))
        norm = self.k1 * (1 - self.b + self.b * self.lengths / self.lengths.mean())
        for token in set(self.analyzer.analyze(" ".join(words))):
            posting = self.postings.get(token)
            if not posting:
                continue
            idf = math.log(1 + (len(self.lengths) - len(posting) + 0.5) / (len(posting) + 0.5))
            docs = np.fromiter(posting, dtype=np.int64)
            tf = np.fromiter(posting.values(), dtype=np.float64)
            scores[docs] += idf * tf * (self.k1 + 1) / (tf + norm[docs])
        best = np.argsort(-scores, kind="stable")[:depth]
        return [int(n) for n in best if scores[n] > 0]


def _postgres_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    """A fresh database beside `admin_url`'s, and a function that drops it."""
    import psycopg

    name = f"docflow_bench_{os.getpid()}"
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(plain, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return "postgresql+psycopg://" + plain.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}", drop


def sample_queries(collection: Collection, every: int) -> Collection:
    """1 judged query in `every` (in the set's order), to judge a large set on less CPU."""
    kept = list(collection.qrels)[::every]
    return Collection(collection.name, collection.documents,
                      {q: collection.queries[q] for q in kept},
                      {q: collection.qrels[q] for q in kept},
                      collection.about + (f", 1 query in {every}" if every > 1 else ""))


def eval_collection(collection: Collection, cache_dir: Path, backend: str = "tantivy",
                    postgres: str | None = None, modes: tuple[str, ...] = MODES) -> None:
    from fastapi.testclient import TestClient

    from docflow.api.app import create_app

    encoder = SentenceEncoder(cache_dir)
    embedded = embed_collection(encoder, collection, cache_dir)
    database_url, drop = (None, lambda: None)
    if backend == "postgres":
        database_url, drop = _postgres_database(postgres or "")
    results: dict[str, list[tuple[float, float, float, int]]] = defaultdict(list)
    position = {ident: n for n, (ident, _) in enumerate(collection.documents)}
    relevant_sims, other_sims = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(data_dir=Path(tmp), zero_shot=True, search=backend,
                                database_url=database_url,
                                vectors="usearch" if backend == "postgres" else None)
            embedding_model_dir(settings).parent.mkdir(parents=True)
            embedding_model_dir(settings).symlink_to(cache_dir.resolve())
            ids = _store_corpus(settings, encoder, collection, embedded)
            passages = sum(len(p) for p in embedded.passages)
            print(f"{collection.name} ({collection.about}) on {backend}: "
                  f"{len(collection.documents)} documents, {passages} passages, embedded in "
                  f"{embedded.cpu:.1f} CPU-s ({1000 * embedded.cpu / len(ids):.0f} ms each; "
                  f"cached in {cache_dir}), {len(collection.qrels)} judged queries")
            with TestClient(create_app(settings, configure_logs=False)) as client:
                for query_id, relevant in collection.qrels.items():
                    query = collection.queries[query_id]
                    sims = embedded.whole @ encoder.embed_one(query)
                    relevant_sims += [float(sims[position[d]]) for d in relevant
                                      if d in position]
                    other = np.ones(len(sims), dtype=bool)
                    other[[position[d] for d in relevant if d in position]] = False
                    other_sims.append(sims[other])
                    for mode in modes:
                        started = time.process_time()
                        reply = client.get("/api/search", params={"q": query, "mode": mode,
                                                                  "limit": 100})
                        cpu = time.process_time() - started
                        ranked = [ids[h["id"]] for h in reply.json()["hits"]]
                        results[mode].append(_judge(ranked, relevant, cpu))
    finally:
        drop()
    texts = [text for _, text in collection.documents]
    for name, stem in (("BM25 plain", False), ("BM25 stemmed", True)):
        reference = ReferenceBM25(texts, stem=stem)
        for query_id, relevant in collection.qrels.items():
            started = time.process_time()
            ranked = [collection.documents[n][0]
                      for n in reference.rank(collection.queries[query_id])]
            results[name].append(_judge(ranked, relevant, time.process_time() - started))
    # Numbered queries are also judged in halves (odd and even ids): a difference between two
    # rankings should hold on both.
    queries = list(collection.qrels)
    halves = ([("odd", 1), ("even", 0)] if all(q.isdigit() for q in queries) else [])
    print(f"{'ranking':<14}{'nDCG@10':>9}" + "".join(f"{h:>7}" for h, _ in halves)
          + f"{'R@100':>8}{'no hit':>8}{'ms/query (CPU)':>16}")
    for name, rows in results.items():
        empty = sum(1 for r in rows if r[3] == 0)
        by_query = list(zip(queries, rows, strict=True))
        parts = "".join(
            f"{statistics.mean(r[0] for q, r in by_query if int(q) % 2 == parity):>7.3f}"
            for _, parity in halves)
        print(f"{name:<14}{statistics.mean(r[0] for r in rows):>9.3f}{parts}"
              f"{statistics.mean(r[1] for r in rows):>8.3f}{empty:>8}"
              f"{1000 * statistics.mean(r[2] for r in rows):>16.1f}")
    print("BM25 plain: lower-cased words; BM25 stemmed: en_stem and the stop words docflow "
          "drops from queries (both written out in this bench, no index, no API)")
    for name, values in (("relevant", relevant_sims),
                         ("other", np.concatenate(other_sims) if other_sims else [])):
        p = np.percentile(values, [5, 25, 50, 75, 95]).round(3)
        print(f"cosine of {name} pairs: p5 {p[0]} p25 {p[1]} p50 {p[2]} p75 {p[3]} p95 {p[4]}")


def _judge(ranked: list[str], relevant: set[str], cpu: float) -> tuple[float, float, float, int]:
    """nDCG@10, recall@100, CPU seconds and hit count of one ranking."""
    recall = len(set(ranked[:100]) & relevant) / len(relevant)
    return _ndcg(ranked, relevant), recall, cpu, len(ranked)


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
    parser.add_argument("--sets", default=",".join(SETS),
                        help="comma-separated test collections: cranfield (topical, judged), "
                        "bbc (known-item: a headline finds its article)")
    parser.add_argument("--cranfield", type=Path, default=None,
                        help="the Cranfield set in BEIR layout (corpus.jsonl, queries.jsonl, "
                        "qrels.tsv); default ../shared/datasets/cranfield")
    parser.add_argument("--bbc", type=Path, default=None,
                        help="bbc_news (train.jsonl); default ../shared/datasets/bbc_news")
    parser.add_argument("--every", type=int, default=1,
                        help="judge 1 query in N only (bbc has 1,504: --every 3 judges 502)")
    parser.add_argument("--backend", choices=("tantivy", "postgres"), default="tantivy",
                        help="the keyword search backend the API searches")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="with --backend postgres: a server where the bench may create "
                        "(and drop) a database of its own")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="comma-separated search modes to judge")
    args = parser.parse_args()
    for name in (n for n in args.sets.split(",") if n):
        if name not in SETS:
            parser.error(f"unknown set {name!r}; valid sets: {', '.join(SETS)}")
        collection = load_collection(name, getattr(args, name))
        if collection is None:
            print(f"{name}: skipped (dataset not found)")
            continue
        if args.every > 1:
            collection = sample_queries(collection, args.every)
        try:
            eval_collection(collection, args.cache_dir, args.backend, args.postgres,
                            tuple(m for m in args.modes.split(",") if m))
        except EmbeddingModelMissing as exc:
            print(f"{name}: skipped ({exc})")
    time_brute_force([int(n) for n in args.scale.split(",") if n])


if __name__ == "__main__":
    main()
