"""Live progress at scale: N browsers on one batch's event stream while its documents finish.

One API process (uvicorn, a subprocess, so its CPU and memory are its own) serves N clients of
GET /api/batches/{id}/events over HTTP. A writer process completes queued documents of the
batch at a steady rate, updating their rows directly as a worker's result transaction would,
and notes when each commit landed. The bench reports the API's CPU per second (no clients,
clients watching a still batch, clients watching a running one), its peak RSS, the events
delivered against those due, and their latency from the commit to the client: `progress`
events (the counters; at most one per poll) and `document` events (announced once they
finished `--settle` seconds ago, by design).

Before that, it times one batch's progress at 100,000 and 500,000 documents, read from the
counters (what batch-status, the overview and the pollers do now) and counted with the GROUP
BY they replaced (the baseline, in the same run), and GET /api/batch-status over HTTP.

The documents are generated in the database with one INSERT ... SELECT per stage (ingesting
half a million files would take hours), with the counting triggers off; `docflow recount`'s
function then brings the counters in line, as the migration's backfill does, and the triggers
are put back before anything is measured.

    .venv/bin/python bench/sse.py                         # SQLite in a temp dir, 200 clients
    .venv/bin/python bench/sse.py --clients 1000 --postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from sqlalchemy import Boolean, bindparam, select, text, update
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from docflow.config import Settings  # noqa: E402
from docflow.store import Batch, Document, DocumentStatus, Store, open_store  # noqa: E402
from docflow.store.batches import batch_progress, counted_batch_progress  # noqa: E402
from docflow.store.counts import drop_triggers, install_triggers, recount  # noqa: E402
from docflow.store.models import UTCDateTime, utcnow  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scaleout import _drop_database, _fresh_database  # noqa: E402

BATCH = "b" * 32
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DB = "docflow_bench_sse"


# --- the data -----------------------------------------------------------------------------

def _generate(store: Store, first: int, last: int) -> None:
    """Documents first..last-1 of the batch, made by the database itself: 70% completed (3%
    with a warning), 5% failed, the rest queued."""
    if store.db.is_sqlite:
        numbers = (f"WITH RECURSIVE nums(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM nums "
                   f"WHERE i < {last - 1}) ")
        source, hexid = "nums", "printf('%0{w}x', i)"
    else:
        numbers, source = "", f"generate_series({first}, {last - 1}) AS i"
        hexid = "lpad(to_hex(i), {w}, '0')"
    statement = text(
        f"{numbers}INSERT INTO documents (id, task_id, batch_id, filename, sha256, size, status, "
        f"warning_codes, tenant_id, created_at, attempts, indexed, needs_review) "
        f"SELECT {hexid.format(w=32)}, {hexid.format(w=36)}, :batch, 'f' || i || '.txt', "
        f"{hexid.format(w=64)}, 1000, "
        f"CASE WHEN i % 100 < 70 THEN '{DocumentStatus.COMPLETED}' "
        f"WHEN i % 100 < 75 THEN '{DocumentStatus.FAILED}' ELSE '{DocumentStatus.QUEUED}' END, "
        f"CASE WHEN i % 100 < 3 THEN 'no_text' END, 'default', :now, 0, :no, :no FROM {source}"
    ).bindparams(bindparam("now", utcnow(), type_=UTCDateTime),
                 bindparam("no", False, type_=Boolean), batch=BATCH)
    with store.db.write() as session:
        session.execute(statement)
    with store.db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def _grow(store: Store, first: int, last: int) -> float:
    started = time.perf_counter()
    with store.db.engine.begin() as conn:
        drop_triggers(conn)
    _generate(store, first, last)
    recount(store.db, BATCH)
    recount(store.db)
    with store.db.engine.begin() as conn:
        install_triggers(conn)
    return time.perf_counter() - started


def _timed(call, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median and p95 milliseconds of `call` (after one warm-up call)."""
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def _read_costs(store: Store, runs: int) -> dict[str, tuple[float, float]]:
    with store.db.read() as session:
        counters = batch_progress(session, BATCH)
        counted = counted_batch_progress(session, BATCH)
    assert counters == counted, (counters, counted)

    def read(fn):  # type: ignore[no-untyped-def]
        def call() -> None:
            with store.db.read() as session:
                fn(session, BATCH)
        return call

    return {"counters": _timed(read(batch_progress), runs),
            "GROUP BY": _timed(read(counted_batch_progress), runs)}


# --- the API process ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVE = """
import uvicorn
from docflow.api.app import create_app
uvicorn.run(create_app(configure_logs=False), host="127.0.0.1", port={port},
            log_level="warning", access_log=False)
"""


def _start_api(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", SERVE.format(port=port)], env=env,
                            cwd=Path(__file__).resolve().parent.parent)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/batches/{BATCH}",
                         timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the API did not start")


@dataclass
class CpuWindow:
    process: psutil.Process
    started: float = 0.0
    cpu: float = 0.0
    peak_rss: int = 0

    def open(self) -> None:
        times = self.process.cpu_times()
        self.started, self.cpu = time.monotonic(), times.user + times.system

    def sample(self) -> None:
        self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)

    def per_second(self) -> float:
        times = self.process.cpu_times()
        return (times.user + times.system - self.cpu) / (time.monotonic() - self.started)


async def _measure_idle(window: CpuWindow, seconds: float) -> float:
    window.open()
    for _ in range(int(seconds * 4)):
        window.sample()
        await asyncio.sleep(0.25)
    return window.per_second()


# --- the clients ------------------------------------------------------------------------------

@dataclass
class Client:
    documents: dict[str, float] = field(default_factory=dict)  # id -> when it arrived
    progress: list[tuple[float, int]] = field(default_factory=list)  # (when, completed)
    first: asyncio.Event = field(default_factory=asyncio.Event)


async def _listen(port: int, path: str, client: Client) -> None:
    """One EventSource: HTTP/1.0, so the stream is the bare body until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
                 .encode())
    await writer.drain()
    while (await reader.readline()) not in (b"\r\n", b""):
        pass  # the response head
    kind = ""
    try:
        while line := await reader.readline():
            if line.startswith(b"event: "):
                kind = line[7:].strip().decode()
            elif line.startswith(b"data: "):
                now = time.time()
                data = json.loads(line[6:])
                if kind == "document":
                    client.documents[data["id"]] = now
                elif kind == "progress":
                    client.progress.append((now, data["completed"]))
                    client.first.set()
    finally:
        writer.close()


# --- the writer ----------------------------------------------------------------------------------

def _write(settings_env: dict[str, str], ids: list[str], rate: float, seconds: float,
           completed_before: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Complete `rate` documents a second for `seconds`, ten commits a second, as result
    transactions do; report each commit's wall time, its ids and the batch's completed count."""
    os.environ.update(settings_env)
    store = open_store(Settings())
    per_commit = max(1, round(rate / 10))
    commits = []
    completed = completed_before
    started = time.monotonic()
    for n, start in enumerate(range(0, min(len(ids), int(rate * seconds)), per_commit)):
        delay = started + n * per_commit / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        chunk = ids[start:start + per_commit]
        with store.db.write() as session:
            session.execute(update(Document).where(Document.id.in_(chunk)).values(
                status=DocumentStatus.COMPLETED, finished_at=utcnow()))
        completed += len(chunk)
        commits.append((time.time(), chunk, completed))
    store.db.dispose()
    out.put(commits)


def _queued_ids(session: Session, count: int) -> list[str]:
    return list(session.scalars(select(Document.id).where(
        Document.batch_id == BATCH, Document.status == DocumentStatus.QUEUED)
        .order_by(Document.id).limit(count)))


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def _live(args: argparse.Namespace, store: Store, env: dict[str, str]) -> list[tuple]:
    port = _free_port()
    api = _start_api(env, port)
    rows: list[tuple] = []
    try:
        window = CpuWindow(psutil.Process(api.pid))
        status_url = f"http://127.0.0.1:{port}/api/batch-status/{BATCH}"
        with httpx.Client(timeout=30) as http:
            median, p95 = _timed(lambda: http.get(status_url).raise_for_status(), args.runs)
        rows.append(("GET /api/batch-status over HTTP (counters)",
                     f"{median:.2f} ms median, {p95:.2f} ms p95"))
        rows.append(("API CPU, no clients", f"{await _measure_idle(window, 5) * 100:.1f} %"))

        clients = [Client() for _ in range(args.clients)]
        tasks = [asyncio.create_task(_listen(port, f"/api/batches/{BATCH}/events", c))
                 for c in clients]
        await asyncio.wait_for(asyncio.gather(*(c.first.wait() for c in clients)), 120)
        rows.append((f"API CPU, {args.clients} clients, batch still",
                     f"{await _measure_idle(window, 5) * 100:.1f} %"))

        with store.db.read() as session:
            ids = _queued_ids(session, int(args.rate * args.seconds))
            before = batch_progress(session, BATCH)
        assert before is not None
        spawn = mp.get_context("spawn")
        out: mp.Queue = spawn.Queue()  # type: ignore[type-arg]
        writer = spawn.Process(
            target=_write, args=(env, ids, args.rate, args.seconds, before.completed, out))
        window.open()
        writer.start()
        while writer.is_alive() or out.empty():
            window.sample()
            await asyncio.sleep(0.25)
            if not writer.is_alive() and out.empty():
                break
        running_cpu = window.per_second()
        commits = out.get(timeout=60)
        writer.join()
        # Document events come `settle` seconds after their commit, plus a poll.
        await asyncio.sleep(args.settle + 2 * args.poll + 1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        window.sample()
        rows.append((f"API CPU, {args.clients} clients, {args.rate:.0f} documents/s finishing",
                     f"{running_cpu * 100:.1f} %"))
        rows.append(("API peak RSS", f"{window.peak_rss / 2**20:.0f} MiB"))

        committed = {doc_id: at for at, chunk, _ in commits for doc_id in chunk}
        doc_latency = [seen - committed[i] for c in clients for i, seen in c.documents.items()
                       if i in committed]
        delivered = sum(len(c.documents.keys() & committed.keys()) for c in clients)
        due = len(committed) * len(clients)
        rows.append(("document events delivered / due", f"{delivered} / {due}"))
        rows.append(("document event latency (commit -> client; settle "
                     f"{args.settle:.1f} s by design)",
                     f"p50 {_pct(doc_latency, 0.5):.2f} s, p95 {_pct(doc_latency, 0.95):.2f} s,"
                     f" max {_pct(doc_latency, 1.0):.2f} s"))
        progress_latency = []
        for c in clients:
            for seen, count in c.progress:
                reached = next((at for at, _, total in commits if total >= count), None)
                if reached is not None and count > before.completed:
                    progress_latency.append(seen - reached)
        final = [c.progress[-1][1] if c.progress else 0 for c in clients]
        rows.append(("progress events per client (mean)",
                     f"{statistics.mean(len(c.progress) for c in clients):.1f} over "
                     f"{len(commits)} commits; final count right for "
                     f"{sum(f == commits[-1][2] for f in final)}/{len(clients)}"))
        rows.append(("progress event latency (commit -> client)",
                     f"p50 {_pct(progress_latency, 0.5):.2f} s, "
                     f"p95 {_pct(progress_latency, 0.95):.2f} s, "
                     f"max {_pct(progress_latency, 1.0):.2f} s"))
    finally:
        api.terminate()
        try:
            api.wait(15)
        except subprocess.TimeoutExpired:  # streams still open keep uvicorn waiting
            api.kill()
            api.wait()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--sizes", default="100000,500000",
                        help="batch sizes at which a progress read is timed")
    parser.add_argument("--rate", type=float, default=50.0, help="documents finished per s")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--poll", type=float, default=1.0, help="DOCFLOW_EVENTS_POLL_SECONDS")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="DOCFLOW_EVENTS_SETTLE_SECONDS")
    parser.add_argument("--runs", type=int, default=30, help="timed reads per measurement")
    parser.add_argument("--postgres", action="store_true",
                        help=f"on a fresh PostgreSQL database {BENCH_DB} (made and dropped "
                        "through --admin-url); default SQLite in a temp dir")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--keep", action="store_true", help="keep the data dir")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="docflow-bench-sse-"))
    env = {**os.environ, "DOCFLOW_DATA_DIR": str(data_dir), "DOCFLOW_AUTH": "off",
           "DOCFLOW_EVENTS_POLL_SECONDS": str(args.poll),
           "DOCFLOW_EVENTS_SETTLE_SECONDS": str(args.settle)}
    env.pop("DOCFLOW_DATABASE_URL", None)
    if args.postgres:
        env["DOCFLOW_DATABASE_URL"] = _fresh_database(args.admin_url, BENCH_DB)
    os.environ.update(env)
    store = open_store(Settings(), migrate=True)
    print(f"database: {store.db.engine.dialect.name}; {psutil.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}")
    rows: list[tuple[str, str]] = []
    try:
        with store.db.write() as session:
            session.add(Batch(id=BATCH, source="bench", document_count=0))
        size = 0
        for target in (int(s) for s in args.sizes.split(",")):
            spent = _grow(store, size, target)
            size = target
            print(f"generated {size} documents ({spent:.0f} s)", flush=True)
            costs = _read_costs(store, args.runs)
            for how, (median, p95) in costs.items():
                rows.append((f"one batch's progress at {size:,} documents, {how}",
                             f"{median:.2f} ms median, {p95:.2f} ms p95"))
            ratio = costs["GROUP BY"][0] / costs["counters"][0]
            rows.append((f"  GROUP BY / counters at {size:,}", f"{ratio:.0f}x"))
        rows += asyncio.run(_live(args, store, env))
    finally:
        store.db.dispose()
        if args.postgres:
            _drop_database(args.admin_url, BENCH_DB)
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measurement':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
