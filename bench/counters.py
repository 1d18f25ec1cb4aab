"""What keeping the counters costs the writers, and why they are sharded on PostgreSQL.

Writers (separate processes, one connection each) move documents of ONE batch through a claim
(queued -> processing) and a result (processing -> completed), one document per transaction
as workers do, for a few seconds per variant, on a fresh PostgreSQL database:

    no counters   the triggers dropped: the baseline, what a status change cost before
    one row       counters with one row per (batch, status): every writer adds to the same rows
    sharded       the counters as shipped: each transaction adds to a shard it holds alone

`--hold-ms` keeps each transaction open that long after its status change (a result
transaction goes on writing children and extractions after the status is flushed): a hot row
stays locked for that long, and every other writer of the batch queues behind it.

Then SQLite, one writer (it serialises writers in any case): the time per status change and
per registered document, with the triggers and without.

    .venv/bin/python bench/counters.py [--writers 16] [--seconds 8] [--hold-ms 0,5]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from docflow.config import Settings  # noqa: E402
from docflow.store import Batch, Store, open_store  # noqa: E402
from docflow.store.counts import drop_triggers, install_triggers, recount  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scaleout import _drop_database, _fresh_database  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DB = "docflow_bench_counters"
BATCH = "b" * 32
PER_WRITER = 1_500  # documents each writer may move in one run (two changes each)
ONE_ROW = "CREATE OR REPLACE FUNCTION docflow_count_shard() RETURNS integer LANGUAGE sql AS " \
          "'SELECT 0'"


def _generate(store: Store, first: int, last: int) -> None:
    """Queued documents first..last-1 of the batch, made by the database itself."""
    hexid = "lpad(to_hex(i), {w}, '0')"
    numbers, source = "", f"generate_series({first}, {last - 1}) AS i"
    if store.db.is_sqlite:
        numbers = (f"WITH RECURSIVE nums(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM nums "
                   f"WHERE i < {last - 1}) ")
        source, hexid = "nums", "printf('%0{w}x', i)"
    with store.db.write() as session:
        session.execute(text(
            f"{numbers}INSERT INTO documents (id, task_id, batch_id, filename, sha256, size, "
            f"status, tenant_id, created_at, attempts, indexed, needs_review) "
            f"SELECT {hexid.format(w=32)}, {hexid.format(w=36)}, :batch, 'f.txt', "
            f"{hexid.format(w=64)}, 1, 'queued', 'default', CURRENT_TIMESTAMP, 0, :no, :no "
            f"FROM {source}"), {"batch": BATCH, "no": False})


def _writer(url: str, ids: list[str], hold_ms: float, ready: Any, go: Any, end: Any,
            out: mp.Queue) -> None:  # type: ignore[type-arg]
    import psycopg

    latencies: list[float] = []
    errors = 0
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        ready.put(True)
        go.wait()  # every writer starts at once
        until = end.value
        for doc_id in ids:
            for status in ("processing", "completed"):
                if time.time() >= until:
                    out.put((latencies, errors, False))
                    return
                began = time.perf_counter()
                try:
                    conn.execute("UPDATE documents SET status = %s, attempts = attempts + 1 "
                                 "WHERE id = %s", (status, doc_id))
                    if hold_ms:
                        conn.execute("SELECT pg_sleep(%s)", (hold_ms / 1000,))
                    conn.commit()
                except psycopg.Error:
                    conn.rollback()
                    errors += 1
                latencies.append((time.perf_counter() - began) * 1000)
    out.put((latencies, errors, True))  # ran out of documents before the time was up


def _postgres_run(url: str, ids: list[str], writers: int, seconds: float,
                  hold_ms: float) -> tuple[float, float, float, int]:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    ready, go, end = ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    procs = [ctx.Process(target=_writer, args=(url, ids[w::writers], hold_ms, ready, go, end,
                                               out))
             for w in range(writers)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    end.value = time.time() + seconds
    go.set()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    assert not any(ran_out for _, _, ran_out in results), "too few documents: raise PER_WRITER"
    latencies = sorted(x for lat, _, _ in results for x in lat)
    return (len(latencies) / seconds, statistics.median(latencies),
            latencies[int(0.95 * (len(latencies) - 1))], sum(e for _, e, _ in results))


def _postgres(args: argparse.Namespace) -> list[tuple[str, ...]]:
    url = _fresh_database(args.admin_url, BENCH_DB)
    os.environ["DOCFLOW_DATABASE_URL"] = url
    data_dir = Path(tempfile.mkdtemp(prefix="docflow-bench-counters-"))
    store = open_store(Settings(data_dir=data_dir, database_url=url), migrate=True)
    variants = [("no counters", drop_triggers), ("one row", ONE_ROW),
                ("sharded", install_triggers)]
    runs: dict[tuple[float, str], list[tuple[float, float, float, int]]] = {}
    try:
        with store.db.write() as session:
            session.add(Batch(id=BATCH, source="bench", document_count=0))
        block = args.writers * PER_WRITER
        total = block * len(variants) * len(args.hold_ms) * args.rounds
        with store.db.engine.begin() as conn:
            drop_triggers(conn)
        _generate(store, 0, total)  # every run's documents at once, counted after
        with store.db.engine.begin() as conn:
            install_triggers(conn)
        recount(store.db)
        print(f"  {total:,} queued documents generated", flush=True)
        first = 0
        for round_ in range(args.rounds):
            # Each round in another order, so a busy moment on the machine favours none.
            order = variants[round_ % 3:] + variants[:round_ % 3]
            for hold in args.hold_ms:
                for name, setup in order:
                    with store.db.engine.begin() as conn:
                        install_triggers(conn)
                        if setup == ONE_ROW:
                            conn.exec_driver_sql(ONE_ROW)
                        elif setup is drop_triggers:
                            drop_triggers(conn)
                    ids = [f"{i:032x}" for i in range(first, first + block)]
                    first += block
                    result = _postgres_run(url, ids, args.writers, args.seconds, hold)
                    runs.setdefault((hold, name), []).append(result)
                    print(f"  round {round_ + 1}, hold {hold:g} ms, {name}: "
                          f"{result[0]:,.0f} status changes/s", flush=True)
        with store.db.engine.begin() as conn:
            install_triggers(conn)
        recount(store.db)  # the runs without triggers left the counters behind: as expected
        assert not recount(store.db).drifted
    finally:
        store.db.dispose()
        _drop_database(args.admin_url, BENCH_DB)
        shutil.rmtree(data_dir, ignore_errors=True)
    rows = []
    for (hold, name), results in runs.items():
        rates = sorted(r[0] for r in results)
        rows.append((f"{hold:g}", name, f"{statistics.median(rates):,.0f}",
                     " ".join(f"{r:,.0f}" for r in rates),
                     f"{statistics.median(r[1] for r in results):.2f}",
                     f"{statistics.median(r[2] for r in results):.2f}",
                     str(sum(r[3] for r in results))))
    return sorted(rows, key=lambda row: (float(row[0]), [v[0] for v in variants].index(row[1])))


def _sqlite(args: argparse.Namespace) -> list[tuple[str, ...]]:
    data_dir = Path(tempfile.mkdtemp(prefix="docflow-bench-counters-"))
    os.environ.pop("DOCFLOW_DATABASE_URL", None)
    store = open_store(Settings(data_dir=data_dir), migrate=True)
    rows = []
    try:
        with store.db.write() as session:
            session.add(Batch(id=BATCH, source="bench", document_count=0))
        first = 0
        for _ in range(2):  # twice, alternating, so a busy moment does not favour one
            for triggers in (False, True):
                with store.db.engine.begin() as conn:
                    (install_triggers if triggers else drop_triggers)(conn)
                started = time.perf_counter()
                _generate(store, first, first + args.sqlite_documents)
                insert_us = (time.perf_counter() - started) / args.sqlite_documents * 1e6
                started = time.perf_counter()
                changes = 0
                for i in range(first, first + args.sqlite_changes):
                    for status in ("processing", "completed"):
                        with store.db.write() as session:
                            session.execute(text("UPDATE documents SET status = :s WHERE id = "
                                                 ":id"), {"s": status, "id": f"{i:032x}"})
                        changes += 1
                change_us = (time.perf_counter() - started) / changes * 1e6
                rows.append(("with triggers" if triggers else "no counters",
                             f"{insert_us:.0f}", f"{change_us:.0f}"))
                first += args.sqlite_documents
    finally:
        store.db.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hold-ms", default="0,5",
                        help="how long each transaction stays open after its change")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--sqlite-documents", type=int, default=20_000)
    parser.add_argument("--sqlite-changes", type=int, default=1_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    args.hold_ms = [float(h) for h in args.hold_ms.split(",")]
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
    if not args.skip_postgres:
        rows = _postgres(args)
        print(f"\nPostgreSQL, {args.writers} writers on one batch, one document per "
              f"transaction")
        header = ("hold ms", "counters", "changes/s", "each round", "p50 ms", "p95 ms",
                  "errors")
        print("  ".join(f"{h:>14}" for h in header))
        for row in rows:
            print("  ".join(f"{c:>14}" for c in row))
    if args.skip_sqlite:
        return
    rows = _sqlite(args)
    print("\nSQLite, one writer")
    print(f"{'counters':>14}  {'us per registered document':>27}  {'us per status change':>21}")
    for name, insert_us, change_us in rows:
        print(f"{name:>14}  {insert_us:>27}  {change_us:>21}")


if __name__ == "__main__":
    main()
