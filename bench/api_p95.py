"""API latency, p50 and p95, of every call the web app's pages make, at 500,000 documents, on
SQLite and on PostgreSQL, over HTTP to the real app.

    .venv/bin/python bench/api_p95.py                              # 500,000 documents, both
    .venv/bin/python bench/api_p95.py --count 20000 --baseline-count 2000 --calls 20
    .venv/bin/python bench/api_p95.py --no-postgres

The documents are NOT ingested: bench/generate.py writes them straight into the database in
bulk (processing 500,000 files takes hours and measures the workers), with the counters
recounted once, and hands the completed ones to the search index (tantivy on SQLite, the
PostgreSQL full-text index on PostgreSQL, as each deployment ships). One document gets a real
original, text and fields for the document page. Each backend gets a fresh data dir; the
PostgreSQL one a scratch database made and dropped with bench/scaleout.py's helpers.

The app runs as its own process (uvicorn, one worker, as `docflow serve` runs it) on
Redis for the broker's queue length; this process is the browser. The calls are those of
docflow/api/web/static/js (api.js and pages/*.js) with the pages' parameters; deep pages
follow the cursor a client holds after walking that far. Each call is timed `--calls` times,
all calls taken in turn so that other work on the machine weighs on all alike, after one
warm-up round. The baseline, measured in the same run: the same calls at --baseline-count
documents, and GET / (the static page: what any request costs here).

Semantic and hybrid search are left out: they need every document's passages embedded
(MiniLM, ~30 ms CPU per page: hours for 500,000 on 2 cores); bench/search_scale.py measures
them at 500,000 with synthesised vectors.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api_pages import deep_cursor  # noqa: E402
from generate import (  # noqa: E402
    BATCH,
    Generated,
    add_text,
    document_id,
    fill,
    search_documents,
)
from scaleout import ADMIN_URL, _drop_database, _fresh_database  # noqa: E402

from docflow.broker import free_port  # noqa: E402
from docflow.config import Settings  # noqa: E402
from docflow.search import open_index  # noqa: E402
from docflow.store import Worker, open_store  # noqa: E402
from docflow.store.listing import DocumentFilter  # noqa: E402

GOAL_MS = 100.0
BENCH_DB = "docflow_bench_api_p95"
SAMPLE_TEXT = ("INVOICE\nInvoice number: INV-1001\nInvoice date: 2024-03-12\n"
               "Bill to: Example Ltd\nTotal due: 1,234.50 EUR\n")


@dataclass(frozen=True)
class Call:
    name: str
    path: str
    params: dict[str, str | int] | None = None


def _pdf(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for line in text.splitlines():
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _fields() -> list[dict]:
    def span(name: str, value: str, normalized: str) -> dict:
        start = SAMPLE_TEXT.index(value)
        return {"name": name, "value": value, "normalized": normalized, "start": start,
                "end": start + len(value), "confidence": 0.9, "source": "extracted"}
    return [span("invoice_number", "INV-1001", "INV-1001"),
            span("document_date", "2024-03-12", "2024-03-12"),
            span("total", "1,234.50 EUR", "1234.50 EUR")]


def prepare(settings: Settings, count: int) -> tuple[Generated, float, float]:
    """The documents, the workers' rows, one real document and the search index."""
    store = open_store(settings, migrate=True)
    try:
        started = time.perf_counter()
        generated = fill(store, count)
        fill_s = time.perf_counter() - started
        sample = document_id(count // 2 + 1)  # completed (n % 20 == 1), needs no review
        add_text(store, sample, _pdf(SAMPLE_TEXT), SAMPLE_TEXT, _fields())
        with store.db.write() as session:
            for n in range(4):
                session.add(Worker(name=f"celery@host{n // 2}-{n}", hostname=f"host{n // 2}",
                                   pid=1000 + n, concurrency=2, active_tasks=n % 3))
    finally:
        store.db.dispose()
    started = time.perf_counter()
    index = open_index(settings.search, settings.index_dir, writer=True,
                       database_url=settings.database_url)
    try:
        chunk = []
        for doc in search_documents(generated):
            chunk.append(doc)
            if len(chunk) == 10_000:
                index.index(chunk)
                chunk = []
        index.index(chunk)
    finally:
        index.close()
    if settings.search == "postgres":
        # What the housekeeper does within a minute of the rows changing (docflow.store.
        # statistics): the planner learns how common each word is.
        engine = create_engine(settings.database_url)
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE search_index")
            conn.commit()
        engine.dispose()
    return generated, fill_s, time.perf_counter() - started


def calls(client: httpx.Client, settings: Settings, generated: Generated) -> list[Call]:
    """The pages' calls (docflow/api/web/static/js), with cursors for deep pages."""
    count = generated.count
    batch = generated.batch_ids[len(generated.batch_ids) // 2]
    sample = document_id(count // 2 + 1)
    store = open_store(settings)
    try:
        def deep(name: str, flt: DocumentFilter, share: float) -> Call:
            # share: the part of the filter's documents to walk past (most of them)
            with store.db.read() as session:
                from sqlalchemy import func, select

                from docflow.store import Document
                from docflow.store.listing import DocumentOrder, _conditions
                matches = session.scalar(select(func.count()).select_from(Document).where(
                    *_conditions(flt, DocumentOrder.OLDEST)))
            depth = max(1, int(matches * share))
            cursor = deep_cursor(store, flt, depth)
            return Call(f"documents {name}, 90% deep (cursor)", "/api/documents",
                        {**flt.as_dict(), "limit": 50, "cursor": cursor})

        def first(name: str, flt: DocumentFilter) -> Call:
            return Call(f"documents {name}, first page", "/api/documents",
                        {**flt.as_dict(), "limit": 50})

        filters = {
            "all": DocumentFilter(),
            "status=completed": DocumentFilter(status="completed"),
            "status=failed": DocumentFilter(status="failed"),
            "type=invoice": DocumentFilter(doc_type="invoice"),
            "batch": DocumentFilter(batch_id=batch),
            "path_prefix=2021/q1/": DocumentFilter(path_prefix="2021/q1/"),
            "needs_review": DocumentFilter(needs_review=True),
            "warning=any": DocumentFilter(warning="any"),
            "warning=no_text": DocumentFilter(warning="no_text"),
        }
        listing = [c for name, flt in filters.items()
                   for c in (first(name, flt), deep(name, flt, 0.9))]  # names as in deep()
    finally:
        store.db.dispose()
    # The batches list's page 10 by the cursor the "older" link carries.
    page = {"limit": 20}
    pages = max(1, min(10, len(generated.batch_ids) // 20))
    for _ in range(pages - 1):
        reply = client.get("/api/batches", params=page).json()
        if not reply.get("next_cursor"):
            break
        page = {"limit": 20, "cursor": reply["next_cursor"]}
    search = {"mode": "keyword", "sort": "relevance", "limit": 20, "offset": 0}
    return [
        Call("overview", "/api/overview"),
        Call("overview: events snapshot", "/api/events"),
        Call("batches, first page", "/api/batches", {"limit": 20}),
        Call("batches, a deep page (cursor)", "/api/batches", page),
        Call("a batch", f"/api/batches/{batch}"),
        Call("a batch: status", f"/api/batch-status/{batch}"),
        Call("a batch: failures by code", f"/api/batches/{batch}/failures"),
        Call("a batch: failed documents", "/api/documents",
             {"batch_id": batch, "status": "failed", "limit": 20}),
        Call("a batch: events snapshot", f"/api/batches/{batch}/events"),
        *listing,
        Call("documents newest first, first page", "/api/documents",
             {"order": "newest", "limit": 50}),
        Call("documents by folder, first page", "/api/documents", {"order": "path", "limit": 50}),
        Call("documents 'Count them' (all)", "/api/documents", {"limit": 1, "count": "true"}),
        Call("documents 'Count them' (type=invoice)", "/api/documents",
             {"doc_type": "invoice", "limit": 1, "count": "true"}),
        Call("a document (with its text)", f"/api/documents/{sample}"),
        Call("a document's original", f"/api/documents/{sample}/file", {"inline": "true"}),
        Call("review queue (page + count)", "/api/documents",
             {"needs_review": "true", "status": "completed", "limit": 1, "count": "true"}),
        Call("search: a rare word", "/api/search", {**search, "q": "w17"}),
        Call("search: three words", "/api/search", {**search, "q": "w1 w2 w3"}),
        Call("search: a common word", "/api/search", {**search, "q": "common"}),
        Call("search: common, type=invoice", "/api/search",
             {**search, "q": "common", "doc_type": "invoice"}),
        Call("search: common, folder 2021/", "/api/search",
             {**search, "q": "common", "path_prefix": "2021/"}),
        Call("search: common, newest first", "/api/search",
             {**search, "q": "common", "sort": "date"}),
        Call("workers", "/api/workers"),
        Call("document types", "/api/document-types"),
        Call("upload: limits", "/api/limits"),
        Call("who am I", "/api/auth/me"),
        Call("metrics", "/metrics"),
    ]


@contextmanager
def served(settings: Settings, env: dict[str, str]) -> Iterator[httpx.Client]:
    """The app in a process of its own, as `docflow serve` runs it (without workers)."""
    port = free_port()
    log = (settings.resolved_data_dir.parent / f"api-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "docflow.api.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, stdout=log,
        stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, "the API process ended"
            try:
                if client.get("/api/limits").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(30)
        log.close()


def measure(client: httpx.Client, cases: list[Call], rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {c.name: [] for c in cases}
    for round_ in range(rounds + 1):
        for case in cases:
            started = time.perf_counter()
            reply = client.get(case.path, params=case.params)
            elapsed = (time.perf_counter() - started) * 1000
            assert reply.status_code == 200, f"{case.name}: {reply.status_code} {reply.text}"
            if round_:  # the first round warms the app, the pools and the caches
                out[case.name].append(elapsed)
    return out


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18] if len(samples) > 1 else samples[0]


def run(label: str, count: int, rounds: int, data_dir: Path,
        database_url: str | None) -> tuple[dict[str, tuple[float, float]], str]:
    search = "postgres" if database_url else "tantivy"
    env = {"DOCFLOW_DATA_DIR": str(data_dir), "DOCFLOW_SEARCH": search,
           "DOCFLOW_SEMANTIC_SEARCH": "false",
           "DOCFLOW_BROKER_URL": "redis://127.0.0.1:6379/14"}
    if database_url:
        env["DOCFLOW_DATABASE_URL"] = database_url
    settings = Settings(data_dir=data_dir, search=search, semantic_search=False,
                        database_url=database_url)
    generated, fill_s, index_s = prepare(settings, count)
    note = (f"{label}, {count:,} documents: written in {fill_s:.0f} s, "
            f"search index ({search}) in {index_s:.0f} s")
    print(note, flush=True)
    with served(settings, env) as client:
        cases = [Call("GET / (static page: the floor)", "/"), *calls(client, settings,
                                                                      generated)]
        timings = measure(client, cases, rounds)
    return {name: (statistics.median(ms), p95(ms)) for name, ms in timings.items()}, note


def backend(label: str, args: argparse.Namespace, tmp: Path) -> None:
    results, notes = [], []
    for count in (args.baseline_count, args.count):
        if not count:
            continue
        data_dir = tmp / f"{label}-{count}"
        url = None
        if label == "PostgreSQL":
            url = _fresh_database(args.admin_url, args.bench_database)
        try:
            found, note = run(label, count, args.calls, data_dir, url)
        finally:
            if url:
                _drop_database(args.admin_url, args.bench_database)
            shutil.rmtree(data_dir, ignore_errors=True)
        results.append(found)
        notes.append(note)
    *base, main = results
    print(f"\n{label}: GET p50 / p95 in ms, {args.calls} calls each; goal p95 <= {GOAL_MS:.0f} ms "
          f"at {args.count:,} documents")
    for note in notes:
        print(f"  {note}")
    head = f"{'call':<52}{'p50':>8}{'p95':>8}"
    if base:
        head += f"{f'p95 @{args.baseline_count:,}':>14}"
    print(head + f"{'goal':>7}{'':>6}")
    failed = 0
    for name, (p50, p95_) in main.items():
        line = f"{name:<52}{p50:8.1f}{p95_:8.1f}"
        if base:
            line += f"{base[0][name][1]:14.1f}" if name in base[0] else f"{'-':>14}"
        ok = p95_ <= GOAL_MS
        failed += not ok
        print(line + f"{'<=100':>7}{'pass' if ok else 'FAIL':>6}")
    print(f"  {len(main) - failed} of {len(main)} within the goal", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500_000)
    parser.add_argument("--baseline-count", type=int, default=10_000,
                        help="the same calls at this many documents first (0: skip)")
    parser.add_argument("--calls", type=int, default=30, help="timed calls of each")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--admin-url", default=ADMIN_URL,
                        help="a PostgreSQL database to create the scratch one from")
    parser.add_argument("--bench-database", default=BENCH_DB,
                        help="the scratch database's name (made, then dropped)")
    args = parser.parse_args(argv)
    if args.count < 2 * BATCH:
        parser.error(f"--count must be at least {2 * BATCH}")
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="docflow-api-p95-"))
    try:
        if not args.no_sqlite:
            backend("SQLite", args, tmp)
        if not args.no_postgres:
            backend("PostgreSQL", args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
