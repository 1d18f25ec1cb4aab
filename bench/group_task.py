"""What a pool process spends on each small document of a task that carries several, in-process.

    .venv/bin/python bench/group_task.py [--groups G] [--per-task 16] [--rounds R]
                                         [--databases sqlite,postgresql]
                                         [--baseline-code DIR] [--admin-url URL]
                                         [--redis-url URL]

The real `docflow.process_documents` task (applied in-process, as a pool process runs it) on G
tasks of `--per-task` small unique text files, after one task to warm up, on a fresh SQLite
store with an embedded Valkey, and on a fresh PostgreSQL database (created and dropped here)
with Redis (a database flushed first). It prints, per database and checkout, the process's CPU
milliseconds per document (every thread: the lease keeper and the watchdog too) and the
transactions (BEGIN) and commits per document, counted on the engine. With `--baseline-code`
each round runs that checkout first (e.g. `git archive` of the base commit) in a process of its
own, then this one: the comparison is made in the same run. Celery's own cost per message
(tracing, the pool's IPC) and the API, broker and indexer are not in it: bench/throughput.py
measures the whole stack.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _measure(groups: int, per_task: int, database: str) -> dict[str, float]:
    """Runs in the child: the environment names the data dir, database and broker."""
    from sqlalchemy import event

    from docflow.config import get_settings
    from docflow.store import documents as docs
    from docflow.store import open_store
    from docflow.store.documents import NewDocument
    from docflow.worker import results
    from docflow.worker.groups import process_documents
    from docflow.worker.runtime import runtime

    settings = get_settings()
    broker = None
    if database == "sqlite":
        from docflow.broker import EmbeddedBroker

        broker = EmbeddedBroker(settings.broker_dir, settings.broker_url_file)
        broker.start()
    store = open_store(settings, migrate=True)
    # The classifier and hints are looked at again every 15 s; keep that out of the count.
    results.classifiers.refresh_seconds = results.learned_fields.refresh_seconds = 1e9

    def register(tag: str) -> list[str]:
        items = [NewDocument(filename=f"{tag}-{i}.txt", blob=store.blobs.put_stream(io.BytesIO(
            f"Invoice {tag}-{i}. Total due: ${i}.00 by 2024-04-30. Dear Ann, thank you for "
            f"the order of {tag} items. Sincerely, Bo".encode()))) for i in range(per_task)]
        with store.db.write() as session:
            return [d.id for d in docs.register_documents(session, items)]

    try:
        process_documents.apply(args=[register("warm-up")])
        tasks = [register(f"g{g}") for g in range(groups)]
        engine = runtime().store.db.engine
        counts = {"begin": 0, "commit": 0}

        def on(name: str) -> None:
            def count(*_: object) -> None:
                counts[name] += 1
            event.listen(engine, name, count)

        on("begin")
        on("commit")
        cpu, wall = time.process_time(), time.perf_counter()
        for ids in tasks:
            result = process_documents.apply(args=[ids])
            if not result.successful():
                raise RuntimeError(result.traceback)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        n = groups * per_task
        return {"cpu_ms": 1000 * cpu / n, "wall_ms": 1000 * wall / n,
                "begins": counts["begin"] / n, "commits": counts["commit"] / n}
    finally:
        store.db.dispose()
        if broker is not None:
            broker.stop()


def _run_child(code: str, database: str, args: argparse.Namespace) -> dict[str, float]:
    sys.path.insert(0, str(REPO / "bench"))
    from scaleout import _drop_database, _fresh_database

    workdir = Path(tempfile.mkdtemp(prefix="docflow-group-task-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
    env.update(PYTHONPATH=code, DOCFLOW_DATA_DIR=str(workdir / "data"),
               DOCFLOW_SEMANTIC_SEARCH="false")
    name = "docflow_bench_group_task"
    if database == "postgresql":
        import redis

        env["DOCFLOW_DATABASE_URL"] = _fresh_database(args.admin_url, name)
        env["DOCFLOW_BROKER_URL"] = args.redis_url
        redis.Redis.from_url(args.redis_url).flushdb()
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", database, "--groups", str(args.groups),
             "--per-task", str(args.per_task)], env=env, cwd=workdir, capture_output=True,
            text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"{database} on {code} failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        if database == "postgresql":
            _drop_database(args.admin_url, name)
        subprocess.run(["rm", "-rf", str(workdir)], check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", type=int, default=40, help="tasks measured (default 40)")
    parser.add_argument("--per-task", type=int, default=16, help="documents per task")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, interleaved")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--baseline-code", default=None, metavar="DIR")
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_measure(args.groups, args.per_task, args.child)))
        return 0

    from rich.console import Console
    from rich.table import Table

    codes = [("this checkout", str(REPO))]
    if args.baseline_code:
        codes.insert(0, ("baseline", str(Path(args.baseline_code).resolve())))
    runs: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    for round_no in range(args.rounds):
        for database in args.databases.split(","):
            for label, code in codes:
                print(f"round {round_no + 1}/{args.rounds}: {database}, {label}",
                      file=sys.stderr)
                runs[database, label].append(_run_child(code, database, args))
    table = Table(title=f"Pool task per small document, {args.per_task} per task, "
                  f"{args.groups} tasks (median of {args.rounds} rounds)")
    for column in ("database", "code", "CPU-ms/doc", "wall-ms/doc", "transactions/doc",
                   "commits/doc", "CPU-ms/doc each round"):
        table.add_column(column, justify="left" if column in ("database", "code") else "right")
    for (database, label), results in runs.items():
        def median(key: str, results: list[dict[str, float]] = results) -> float:
            return sorted(r[key] for r in results)[len(results) // 2]

        table.add_row(database, label, f"{median('cpu_ms'):.2f}", f"{median('wall_ms'):.2f}",
                      f"{median('begins'):.2f}", f"{median('commits'):.2f}",
                      ", ".join(f"{r['cpu_ms']:.2f}" for r in results))
    Console(width=None if sys.stdout.isatty() else 140).print(table)
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
