"""Scale-out: one corpus through PostgreSQL + Redis with 1, 2 and 4 worker processes, and
through the embedded default (SQLite + embedded Valkey), in one run.

    .venv/bin/python bench/scaleout.py [--count N] [--processes 1,2,4]
                                       [--source auto|shared|generated]
                                       [--database-url URL] [--redis-url URL]
                                       [--bench-database NAME]

Each run starts `docflow serve` with that many worker processes (and the API and housekeeper
beside them), uploads the corpus, and times it from the first upload byte until every document
is completed or failed and every completed one is searchable. The PostgreSQL runs use a fresh
schema in a database of their own (created and dropped here) and a Redis database that is
flushed first, with `DOCFLOW_SEARCH=postgres`. Scaling efficiency is rate(n) / (n x rate(1)).
On a machine with fewer cores than processes, efficiency falls: the table prints the cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import psutil
import redis
from rich.table import Table
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import (  # noqa: E402
    Corpus,
    StackResult,
    _kleister_files,
    _mixed_files,
    _raise_interrupt,
    console,
    err,
    generated_corpus,
    run_stack,
    shared_corpus,
)

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DB = "docflow_bench_scaleout"


def _fresh_database(admin_url: str, name: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _drop_database_or_say_so(admin_url: str, name: str) -> None:
    """Cleanup after a run that may have failed: never hide the failure behind this one."""
    try:
        _drop_database(admin_url, name)
    except Exception as exc:
        err.print(f"[yellow]could not drop the bench database {name}: {exc}; "
                  f'drop it with: DROP DATABASE "{name}" WITH (FORCE)')


def _reset(database_url: str, redis_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()


def _rate(r: StackResult) -> float:
    return r.docs / r.wall_s if r.wall_s else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200, help="documents (default 200)")
    parser.add_argument("--processes", default="1,2,4", help="worker processes per run")
    parser.add_argument("--source", choices=("auto", "shared", "generated"), default="auto")
    parser.add_argument("--chunk", type=int, default=100, help="files per batch upload")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--database-url", default=ADMIN_URL,
                        help="an existing PostgreSQL database to create the bench one from")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--bench-database", default=BENCH_DB,
                        help="the database created for the run and dropped after it")
    args = parser.parse_args(argv)
    processes = [int(p) for p in args.processes.split(",")]

    signal.signal(signal.SIGTERM, _raise_interrupt)
    busy = psutil.cpu_percent(interval=1.0)
    workdir = Path(tempfile.mkdtemp(prefix="docflow-scaleout-"))
    runs: list[tuple[str, int, StackResult]] = []
    made_database = False
    try:
        source = args.source
        if source == "auto":
            source = "shared" if _mixed_files() or _kleister_files() else "generated"
        corpus: Corpus = (shared_corpus(args.count, args.seed, workdir / "copies")
                          if source == "shared"
                          else generated_corpus(args.count, args.seed, workdir / "corpus"))
        made_database = True  # from here on, the bench database is dropped however we leave
        database_url = _fresh_database(args.database_url, args.bench_database)
        for n in processes:
            _reset(database_url, args.redis_url)
            err.print(f"[bold]PostgreSQL + Redis, {n} worker processes")
            env = {"DOCFLOW_DATABASE_URL": database_url, "DOCFLOW_BROKER_URL": args.redis_url,
                   "DOCFLOW_SEARCH": "postgres"}
            runs.append(("postgres + redis", n, run_stack(
                corpus, n, args.chunk, workdir / f"pg{n}", args.timeout, env)))
        embedded = os.cpu_count() or 1
        err.print(f"[bold]embedded default (SQLite + Valkey), {embedded} worker processes")
        runs.append(("embedded default", embedded, run_stack(
            corpus, embedded, args.chunk, workdir / "embedded", args.timeout)))
    except KeyboardInterrupt:
        err.print("[yellow]interrupted; everything this run started has been stopped")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        shutil.rmtree(workdir, ignore_errors=True)
        if made_database:
            _drop_database_or_say_so(args.database_url, args.bench_database)

    console.print(f"Machine: {os.cpu_count()} CPUs; CPU busy before the run {busy:.0f}%. "
                  f"Source: {source}, {len(corpus.docs)} documents "
                  f"({corpus.unique} byte-distinct).")
    base = next((_rate(r) for mode, n, r in runs if mode != "embedded default" and n == 1), 0)
    table = Table("mode", "worker processes", "docs", "completed", "failed", "wall s",
                  "docs/s", "scaling efficiency", "searchable s", "CPU ms/doc (all)",
                  "peak RSS MiB (all)", title="Scale-out throughput")
    for mode, n, r in runs:
        eff = f"{_rate(r) / (n * base):.2f}" if base and mode != "embedded default" else "-"
        table.add_row(mode, str(n), str(r.docs), str(r.completed), str(r.failed),
                      f"{r.wall_s:.1f}", f"{_rate(r):.1f}", eff,
                      f"{r.searchable_s:.1f}" if r.searchable_s else "-",
                      f"{1000 * r.cpu_total / r.docs:.0f}" if r.docs else "-",
                      f"{r.peak_total / 2**20:.0f}")
    console.print(table)
    return 0 if all(r.unfinished == 0 for _, _, r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
