"""GET /api/documents at depth: the first page, a page 45,000 documents deep by offset (the
old way, the baseline) and the same page by cursor, through the real ASGI app.

    .venv/bin/python bench/api_pages.py                         # 100,000 documents, SQLite
    .venv/bin/python bench/api_pages.py --documents 500000 --depth 450000
    .venv/bin/python bench/api_pages.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

The rows are written straight into the database in bulk by bench/generate.py (1,000 a batch,
sharing a created_at as a batch upload's do), not processed: the listing reads only the
documents table.
The cursor for the deep page is the one a client holds after walking there (the key of the
document just before it). Latencies are wall-clock per request, p50 and p95 over --calls, the cases
taken in turn so that other work on the machine weighs on all alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fastapi.testclient import TestClient  # noqa: E402
from generate import fill  # noqa: E402
from scaleout import _drop_database, _fresh_database  # noqa: E402
from sqlalchemy import select  # noqa: E402

from docflow.api.app import create_app  # noqa: E402
from docflow.api.cursors import encode_cursor  # noqa: E402
from docflow.config import Settings  # noqa: E402
from docflow.store import Document, Store, open_store  # noqa: E402
from docflow.store.listing import DocumentFilter, DocumentOrder, document_key  # noqa: E402


def timed(calls: int, cases: list[tuple[str, Callable[[], object]]]) -> dict[str, list[float]]:
    """Milliseconds per call of each case, the cases taken in turn, so that other work on the
    machine weighs on all of them alike."""
    out: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(calls):
        for name, call in cases:
            t0 = time.perf_counter()
            call()
            out[name].append((time.perf_counter() - t0) * 1000)
    return out


def deep_cursor(store: Store, flt: DocumentFilter, depth: int) -> str:
    """The next_cursor a client holds after walking `depth` documents of `flt`."""
    from docflow.store.listing import _conditions

    with store.db.read() as session:
        doc = session.scalars(select(Document).where(*_conditions(flt, DocumentOrder.OLDEST))
                              .order_by(Document.created_at, Document.id)
                              .offset(depth - 1).limit(1)).one()
        key = document_key(DocumentOrder.OLDEST, doc)
    return encode_cursor("documents", "oldest", flt.as_dict(), key)


def run(settings: Settings, count: int, depth: int, calls: int, label: str) -> list[tuple]:
    store = open_store(settings, migrate=True)
    t0 = time.perf_counter()
    fill(store, count)
    fill_s = time.perf_counter() - t0
    print(f"{label}: {count:,} documents written in {fill_s:.1f} s", flush=True)
    rows = []
    with TestClient(create_app(settings, configure_logs=False)) as client:
        def get(**params: object) -> Callable[[], object]:
            def call() -> object:
                reply = client.get("/api/documents", params={"limit": 50, **params})
                assert reply.status_code == 200, reply.text
                return reply
            return call

        completed = DocumentFilter(status="completed")
        cases = [
            ("first page", get()),
            (f"offset {depth:,} (old way)", get(offset=depth)),
            (f"cursor at {depth:,}", get(cursor=deep_cursor(store, DocumentFilter(), depth))),
            ("newest first, first page", get(order="newest")),
            (f"status=completed, offset {depth:,}", get(status="completed", offset=depth)),
            (f"status=completed, cursor at {depth:,}",
             get(status="completed", cursor=deep_cursor(store, completed, depth))),
            ("first page with count=true", get(count="true")),
        ]
        timed(3, cases)  # warm the app, the pool and the database's cache first
        for name, ms in timed(calls, cases).items():
            rows.append((label, name, statistics.median(ms), statistics.quantiles(ms, n=20)[18]))
            print(f"  {name:<40} p50 {rows[-1][2]:7.1f} ms   p95 {rows[-1][3]:7.1f} ms",
                  flush=True)
    store.db.dispose()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--depth", type=int, default=45_000)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--postgres", metavar="URL", help="Also on PostgreSQL: a database "
                        "URL whose server may create (and drop) a scratch database.")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args(argv)
    if args.depth >= args.documents:
        parser.error("--depth must be below --documents")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DOCFLOW_SEMANTIC_SEARCH"] = "false"
        if not args.no_sqlite:
            settings = Settings(data_dir=Path(tmp) / "sqlite")
            settings.database_url = None
            results += run(settings, args.documents, args.depth, args.calls, "SQLite")
        if args.postgres:
            results += run_postgres(args, Path(tmp) / "pg")
    print(f"\nGET /api/documents?limit=50, {args.documents:,} documents, {args.calls} calls "
          "each (ms)")
    print(f"{'database':<11}{'page':<42}{'p50':>8}{'p95':>8}")
    for label, name, p50, p95 in results:
        print(f"{label:<11}{name:<42}{p50:8.1f}{p95:8.1f}")
    return 0


def run_postgres(args: argparse.Namespace, data_dir: Path) -> list[tuple]:
    name = f"docflow_bench_pages_{os.getpid()}"
    settings = Settings(data_dir=data_dir)
    settings.database_url = _fresh_database(args.postgres, name)
    try:
        return run(settings, args.documents, args.depth, args.calls, "PostgreSQL")
    finally:
        _drop_database(args.postgres, name)


if __name__ == "__main__":
    raise SystemExit(main())
