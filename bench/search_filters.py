"""What counts per type (facets), folder and date filters and date order cost a keyword search.

    .venv/bin/python bench/search_filters.py                       # 200,000 documents, tantivy
    .venv/bin/python bench/search_filters.py --count 50000 --postgres postgresql+psycopg://...

N documents (8 types, 5 years of upload dates, 3-level folders, 60 words from a 3,000-word
vocabulary, one in three with the word "common") are written straight into the index through
SearchIndex.index, then each query is timed as the baseline (a plain page of 20 hits) and with
one addition at a time, in the same run. With --postgres the same documents go into that
database's documents and search_index tables too (the database is emptied first).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from docflow.search import (  # noqa: E402
    SearchDocument,
    SearchFilters,
    SearchIndex,
    SearchSort,
    open_index,
)

TYPES = ["invoice", "letter", "contract", "receipt", "report", "memo", "form", "cv"]
QUERIES = {"rare word": "w17", "3 words": "w1 w2 w3", "common word": "common", "blank": ""}
START = datetime(2020, 1, 1, tzinfo=UTC)


def documents(count: int) -> list[SearchDocument]:
    rng = random.Random(7)
    words = [f"w{i}" for i in range(3000)]
    docs = []
    for i in range(count):
        text = " ".join(rng.choices(words, k=60)) + (" common" if i % 3 == 0 else "")
        path = f"{2020 + i % 5}/q{i % 4 + 1}/dept{i % 7}/file{i}.pdf"
        docs.append(SearchDocument(id=f"{i:032x}", filename=f"file{i}.pdf",
                                   doc_type=rng.choice(TYPES), batch_id=f"b{i // 1000}",
                                   text=text, source_path=path,
                                   created_at=START + timedelta(minutes=9 * i)))
    return docs


def fill_postgres(url: str, docs: list[SearchDocument]) -> None:
    from sqlalchemy import insert, text

    from docflow.store import Database, Document, upgrade_database

    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade_database(db)
    with db.write() as session:
        for start in range(0, len(docs), 5000):
            session.execute(insert(Document), [
                {"id": d.id, "filename": d.filename, "source_path": d.source_path,
                 "sha256": "0" * 64, "size": 1, "status": "completed", "doc_type": d.doc_type,
                 "created_at": d.created_at} for d in docs[start : start + 5000]])
    db.dispose()


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    action()  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def measure(name: str, index: SearchIndex, repeat: int) -> None:
    variants: dict[str, dict] = {
        "baseline (page of 20)": {},
        "+ facets": {"facets": True},
        "+ folder 2021/ (a term)": {"filters": SearchFilters(path_prefix="2021/")},
        "+ prefix 2021/q1/dept1 (walk)": {"filters": SearchFilters(path_prefix="2021/q1/dept1")},
        "+ one year of dates": {"filters": SearchFilters(created_from=START,
                                                         created_before=START
                                                         + timedelta(days=365))},
        "+ sort=date": {"sort": SearchSort.DATE},
        "+ all of the above": {"facets": True, "sort": SearchSort.DATE, "filters": SearchFilters(
            path_prefix="2021/", created_from=START, created_before=START
            + timedelta(days=365))},
    }
    print(f"\n{name}: ms p50 / p95 ({repeat} runs each)")
    print(f"{'':32}" + "".join(f"{q:>18}" for q in QUERIES))
    for label, kwargs in variants.items():
        cells = []
        for q in QUERIES.values():
            p50, p95 = timed(lambda q=q, kw=kwargs: index.search(q, limit=20, **kw), repeat)
            cells.append(f"{p50:8.2f} / {p95:6.2f}")
        print(f"{label:32}" + "".join(f"{c:>18}" for c in cells))
    counts = {q: index.search(q, limit=0).total for q in QUERIES.values()}
    print(f"{'matches':32}" + "".join(f"{counts[q]:>18,}" for q in QUERIES.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--postgres", help="also measure the PostgreSQL backend on this URL")
    args = parser.parse_args()
    docs = documents(args.count)
    with tempfile.TemporaryDirectory() as tmp:
        index = open_index("tantivy", Path(tmp) / "index", writer=True)
        started = time.perf_counter()
        for start in range(0, len(docs), 50_000):
            index.index(docs[start : start + 50_000])
        print(f"tantivy: {args.count:,} documents indexed in {time.perf_counter() - started:.1f} s")
        measure(f"tantivy, {args.count:,} documents", index, args.repeat)
        index.close()
    if args.postgres:
        fill_postgres(args.postgres, docs)
        index = open_index("postgres", Path("."), writer=True, database_url=args.postgres)
        started = time.perf_counter()
        for start in range(0, len(docs), 5_000):
            index.index(docs[start : start + 5_000])
        print(f"\npostgres: {args.count:,} documents indexed in "
              f"{time.perf_counter() - started:.1f} s")
        measure(f"postgres, {args.count:,} documents", index, max(5, args.repeat // 3))
        index.close()


if __name__ == "__main__":
    main()
