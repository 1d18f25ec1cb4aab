"""Soak: many small unique documents through `docflow upload` into `docflow serve`, slice by
slice, to see whether a document costs the same at the 500,000th as at the first.

    .venv/bin/python bench/soak.py [--count 200000] [--slice 20000]
                                   [--backend embedded|postgres|both] [--concurrency C]

The bench writes --count small files (three text files to one one-page PDF, every one unique),
one folder per slice, and starts `docflow serve` (bench/throughput.py's Stack): on the embedded
default (SQLite, embedded Valkey, tantivy), and/or on PostgreSQL + Redis (a fresh database
created here and dropped after, Redis database --redis-url flushed, DOCFLOW_SEARCH=postgres).
Each slice is sent by `docflow upload` as one batch; the slice ends when every document in it
is completed or failed and every completed one is found by search. For each slice: docs/s and
CPU-ms per document by process role (API, broker, worker main, pool children, housekeeper;
PostgreSQL's and Redis's server processes too when they run on this machine: every one of
them, so other users of a shared server count as well). At the end: RSS
of each process, database and index sizes, p50/p95 of batch status, the document list's first
and last pages and search; then the goals as PASS/FAIL lines and a projection to 500,000.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from rich.table import Table

from docflow.demo import make_pdf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scaleout import ADMIN_URL, _drop_database_or_say_so, _fresh_database, _reset  # noqa: E402
from throughput import (  # noqa: E402
    REFERENCE_LOAD,
    Stack,
    StackResult,
    _raise_interrupt,
    console,
    err,
)

SOAK_DB = "docflow_bench_soak"
MAX_BATCH = 10_000  # the server's max_batch_files: a slice is one batch or a few
ROLES = ("api", "broker", "worker", "pool", "housekeeper", "database", "other")
# The goals of issue 12.
FLAT_WITHIN = 0.10  # the last slice's CPU per document within 10% of the first's
STACK_CPU_MS = 8.0  # CPU-ms per small document, every process of the stack included
CALL_P95_MS = 20.0  # every listed API call, p95
WORDS = ("invoice", "contract", "receipt", "letter", "order", "report", "notice", "statement",
         "payment", "delivery", "account", "meeting", "schedule", "renewal", "policy", "claim")


# -- the documents ------------------------------------------------------------------------------


def small_text(number: int, rng: random.Random) -> str:
    """A few unique lines, like a short note or a one-line receipt."""
    words = " ".join(rng.choice(WORDS) for _ in range(12))
    return (f"Document {number} reference SOAK-{number:07d}. {words.capitalize()}. "
            f"Amount {rng.randint(1, 99_999) / 100:.2f} EUR, dated 2026-{1 + number % 12:02d}-"
            f"{1 + number % 28:02d}.")


def write_slices(root: Path, count: int, slice_size: int, seed: int = 0) -> list[Path]:
    """`count` unique small files, one folder per slice; every fourth is a one-page PDF."""
    rng = random.Random(seed)
    folders = []
    for start in range(0, count, slice_size):
        folder = root / f"slice-{len(folders):03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(start, min(start + slice_size, count)):
            text = small_text(number, rng)
            if number % 4 == 3:
                (folder / f"doc-{number:07d}.pdf").write_bytes(make_pdf([text]))
            else:
                (folder / f"doc-{number:07d}.txt").write_text(text + "\n")
        folders.append(folder)
    return folders


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Slice:
    docs: int
    completed: int = 0
    failed: int = 0
    wall_s: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by role in this slice

    @property
    def rate(self) -> float:
        return self.docs / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_ms_per_doc(self) -> float:
        return 1000 * sum(self.cpu.values()) / self.docs if self.docs else 0.0


@dataclass
class Run:
    backend: str
    slices: list[Slice] = field(default_factory=list)
    rss: list[tuple[str, int, int]] = field(default_factory=list)  # role, pid, RSS at the end
    peak: dict[str, int] = field(default_factory=dict)
    database_bytes: int = 0
    index_bytes: int = 0
    latency_ms: dict[str, list[float]] = field(default_factory=dict)


class ServerCpu:
    """CPU seconds of server processes this machine runs outside the stack (PostgreSQL, Redis)."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names  # process name prefix -> role
        self._mark: dict[int, float] = {}

    def _now(self) -> dict[int, tuple[str, float]]:
        out = {}
        for proc in psutil.process_iter(["name"]):
            role = next((r for n, r in self.names.items()
                         if (proc.info["name"] or "").startswith(n)), None)
            if role is None:
                continue
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                out[proc.pid] = (role, times.user + times.system)
        return out

    def mark(self) -> None:
        self._mark = {pid: cpu for pid, (_, cpu) in self._now().items()}

    def since_mark(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for pid, (role, cpu) in self._now().items():
            out[role] += cpu - self._mark.get(pid, 0.0)
        return dict(out)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _timed(calls: int, call: Callable[[], object]) -> list[float]:
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        out.append(1000 * (time.perf_counter() - started))
    return out


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _upload(stack: Stack, folder: Path, work: Path, name: str, docs: int) -> list[str]:
    ids_file = work / f"{name}.batch_ids.json"
    done = subprocess.run(
        [sys.executable, "-m", "docflow", "upload", str(folder), "--url", stack.url,
         "--batch-size", str(min(docs, MAX_BATCH)),
         "--checkpoint", str(work / f"{name}.checkpoint.sqlite"),
         "--batch-ids-out", str(ids_file), "--name", name],
        capture_output=True, text=True, cwd=work, timeout=24 * 3600)
    if done.returncode != 0:
        raise RuntimeError(f"docflow upload exited {done.returncode}:\n{done.stdout[-3000:]}"
                           f"\n{done.stderr[-3000:]}")
    return json.loads(ids_file.read_text())["batch_ids"]


def _wait_done(stack: Stack, batches: list[str], part: Slice, timeout: float) -> None:
    """Every document terminal, then every completed one searchable: polled once a second, so
    the watching costs the API little."""
    deadline = time.monotonic() + timeout
    while True:
        totals: dict[str, int] = defaultdict(int)
        for batch_id in batches:
            status = stack.client.get(f"/api/batch-status/{batch_id}").json()
            for key in ("total", "completed", "failed"):
                totals[key] += status[key]
        part.completed, part.failed = totals["completed"], totals["failed"]
        if totals["completed"] + totals["failed"] >= totals["total"]:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"slice not done in {timeout:.0f}s: {dict(totals)}")
        time.sleep(1.0)
    while True:
        found = sum(stack.client.get("/api/search", params={
            "q": "*", "batch_id": b, "limit": 1}).json()["total"] for b in batches)
        if found >= part.completed:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {found}/{part.completed} searchable in {timeout:.0f}s")
        time.sleep(1.0)


def _latencies(stack: Stack, batches: list[str], calls: int) -> dict[str, list[float]]:
    client = stack.client
    # A page at the far end of the oldest-first listing, by cursor as clients page: the second
    # page of the newest-first order (its cursor holds the 50th newest document's key).
    newest = client.get("/api/documents", params={"limit": 50, "order": "newest"}).json()
    last = {"limit": 50, "order": "newest", **({"cursor": newest["next_cursor"]}
                                               if newest["next_cursor"] else {})}
    rng = random.Random(1)

    def ok(path: str, **params: object) -> Callable[[], object]:
        def call() -> object:
            reply = client.get(path, params=params)
            reply.raise_for_status()
            return reply
        return call

    return {
        "batch status": _timed(calls, ok(f"/api/batch-status/{batches[-1]}")),
        "documents, first page": _timed(calls, ok("/api/documents", limit=50, offset=0)),
        "documents, last page": _timed(calls, ok("/api/documents", **last)),
        "search": [t for _ in range(calls) for t in _timed(1, ok(
            "/api/search", q=f"{rng.choice(WORDS)} {rng.choice(WORDS)}", limit=20))],
    }


def run_backend(backend: str, folders: list[Path], work: Path, concurrency: int,
                env: dict[str, str], calls: int, timeout: float,
                sizes: Callable[[Stack], tuple[int, int]]) -> Run:
    run = Run(backend)
    servers = ServerCpu({"postgres": "database", "redis-server": "broker"}
                        if backend == "postgres" else {})
    stack = Stack(work / "stack", concurrency, env)
    result = StackResult()
    batches: list[str] = []
    try:
        err.print(f"[bold]{backend}[/]: starting docflow serve on {stack.url}")
        stack.wait_healthy()
        for index, folder in enumerate(folders):
            part = Slice(docs=sum(1 for _ in folder.iterdir()))
            stack.sampler.mark()
            servers.mark()
            started = time.perf_counter()
            mine = _upload(stack, folder, work, f"slice-{index:03d}", part.docs)
            _wait_done(stack, mine, part, timeout)
            part.wall_s = time.perf_counter() - started
            part.cpu = stack.sampler.cpu_by_role()
            for role, seconds in servers.since_mark().items():
                part.cpu[role] = part.cpu.get(role, 0.0) + seconds
            batches += mine
            run.slices.append(part)
            err.print(f"{backend}: slice {index + 1}/{len(folders)}: {part.docs} docs in "
                      f"{part.wall_s:.0f}s, {part.cpu_ms_per_doc:.1f} CPU-ms/doc")
        run.latency_ms = _latencies(stack, batches, calls)
        run.database_bytes, run.index_bytes = sizes(stack)
        for proc in stack.sampler.descendants():
            with contextlib.suppress(psutil.Error):
                run.rss.append((stack.sampler._roles.get(proc.pid) or "other", proc.pid,
                                proc.memory_info().rss))
    except Exception:
        err.print(f"[red]{backend} run failed; the end of its output:[/]\n{stack.output()}")
        raise
    finally:
        stack.stop(result)
        run.peak = dict(stack.sampler.peak)
    return run


# -- the report ---------------------------------------------------------------------------------


def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope and intercept; a flat line through the mean for one point."""
    if len(xs) < 2:
        return 0.0, (ys[0] if ys else 0.0)
    slope, intercept = statistics.linear_regression(xs, ys)
    return slope, intercept


def _no_fall(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """The fitted line, or a flat one at the mean when costs fell: noise over a few slices
    must not project a cost that keeps falling to zero."""
    slope, intercept = linear_fit(xs, ys)
    return (slope, intercept) if slope > 0 else (0.0, statistics.fmean(ys))


def projection(slices: list[Slice], target: int = REFERENCE_LOAD) -> tuple[float, float, float]:
    """(CPU-ms per document at the target-th document, hours to process `target` documents,
    CPU hours) extrapolated linearly from the slices' midpoints."""
    mids, seen = [], 0
    for part in slices:
        mids.append(seen + part.docs / 2)
        seen += part.docs
    cpu_slope, cpu_0 = _no_fall(mids, [p.cpu_ms_per_doc for p in slices])
    time_slope, time_0 = _no_fall(mids, [p.wall_s / p.docs for p in slices])
    # Per-document cost is linear in n, so its sum to the target is the mean at target/2 x n.
    cpu_at_target = cpu_0 + cpu_slope * target
    wall_s = target * max(time_0 + time_slope * target / 2, 0.0)
    cpu_h = target * max(cpu_0 + cpu_slope * target / 2, 0.0) / 1000 / 3600
    return cpu_at_target, wall_s / 3600, cpu_h


def goals(run: Run) -> list[tuple[bool, str]]:
    first, last = run.slices[0], run.slices[-1]
    total_cpu_ms = sum(1000 * sum(p.cpu.values()) for p in run.slices)
    total_docs = sum(p.docs for p in run.slices)
    per_doc = total_cpu_ms / total_docs if total_docs else 0.0
    drift = last.cpu_ms_per_doc / first.cpu_ms_per_doc - 1 if first.cpu_ms_per_doc else 0.0
    out = [
        (abs(drift) <= FLAT_WITHIN or drift < 0,
         f"flat: last slice {last.cpu_ms_per_doc:.2f} CPU-ms/doc vs first "
         f"{first.cpu_ms_per_doc:.2f} ({drift:+.0%}; goal within {FLAT_WITHIN:.0%})"),
        (per_doc <= STACK_CPU_MS,
         f"stack: {per_doc:.2f} CPU-ms per document, all processes (goal <= {STACK_CPU_MS:g})"),
    ]
    for name, times in run.latency_ms.items():
        p95 = percentile(times, 0.95)
        out.append((p95 <= CALL_P95_MS, f"{name}: p95 {p95:.1f} ms (goal <= {CALL_P95_MS:g})"))
    return out


def report(run: Run) -> bool:
    roles = [r for r in ROLES if any(r in p.cpu for p in run.slices)]
    table = Table("slice", "docs", "done", "failed", "wall s", "docs/s", "CPU ms/doc",
                  *[r[:6] for r in roles],
                  title=f"Soak, {run.backend}: CPU-ms per document, in all and by role")
    seen = 0
    for part in run.slices:
        seen += part.docs
        table.add_row(f"..{seen:,}", str(part.docs), str(part.completed), str(part.failed),
                      f"{part.wall_s:.0f}", f"{part.rate:.1f}", f"{part.cpu_ms_per_doc:.2f}",
                      *[f"{1000 * part.cpu.get(r, 0.0) / part.docs:.2f}" for r in roles])
    console.print(table)
    rss = Table("role", "pid", "RSS MiB", "peak MiB (role, one process)",
                title=f"Processes at the end, {run.backend}")
    for role, pid, size in sorted(run.rss):
        rss.add_row(role, str(pid), f"{size / 2**20:.0f}", f"{run.peak.get(role, 0) / 2**20:.0f}")
    console.print(rss)
    console.print(f"Database {run.database_bytes / 2**20:,.1f} MiB, index "
                  f"{run.index_bytes / 2**20:,.1f} MiB "
                  f"({run.database_bytes / max(seen, 1):,.0f} + "
                  f"{run.index_bytes / max(seen, 1):,.0f} bytes per document)")
    calls = Table("call", "p50 ms", "p95 ms", "calls", title=f"API calls at {seen:,}")
    for name, times in run.latency_ms.items():
        calls.add_row(name, f"{percentile(times, 0.5):.1f}", f"{percentile(times, 0.95):.1f}",
                      str(len(times)))
    console.print(calls)
    passed = True
    for ok, line in goals(run):
        passed &= ok
        console.print(f"{'PASS' if ok else 'FAIL'}  {line}")
    cpu_at, hours, cpu_h = projection(run.slices)
    console.print(f"Projection to {REFERENCE_LOAD:,} (linear in the slices): "
                  f"{cpu_at:.2f} CPU-ms for the {REFERENCE_LOAD:,}th document, "
                  f"{hours:.1f} h of wall time and {cpu_h:.1f} CPU-hours in all at this "
                  "concurrency")
    last = run.slices[-1]
    # A few short slices on a busy machine fit a noisy slope: the flat case bounds it below.
    console.print(f"  if it stays at the last slice's cost: {last.cpu_ms_per_doc:.2f} CPU-ms "
                  f"per document, {REFERENCE_LOAD / last.rate / 3600 if last.rate else 0:.1f} h "
                  f"of wall time")
    return passed


# -- main ---------------------------------------------------------------------------------------


def _embedded_sizes(stack: Stack) -> tuple[int, int]:
    database = sum(_du(p) for p in stack.data_dir.glob("docflow.db*"))
    return database, _du(stack.data_dir / "index")


def _postgres_sizes(database_url: str) -> Callable[[Stack], tuple[int, int]]:
    from sqlalchemy import create_engine, text

    def sizes(stack: Stack) -> tuple[int, int]:
        engine = create_engine(database_url)
        with engine.connect() as conn:
            database = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
            index = conn.execute(text("SELECT pg_total_relation_size('search_index')")).scalar()
        engine.dispose()
        return int(database or 0), int(index or 0)

    return sizes


@contextlib.contextmanager
def _postgres(admin_url: str, name: str, redis_url: str) -> Iterator[str]:
    made = False
    try:
        url = _fresh_database(admin_url, name)
        made = True
        _reset(url, redis_url)
        yield url
    finally:
        if made:
            _drop_database_or_say_so(admin_url, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200_000, help="documents (default 200,000)")
    parser.add_argument("--slice", type=int, default=20_000, help="documents per slice")
    parser.add_argument("--backend", choices=("embedded", "postgres", "both"), default="both")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1,
                        help="worker processes (default: one per CPU)")
    parser.add_argument("--calls", type=int, default=100, help="calls per measured API call")
    parser.add_argument("--slice-timeout", type=float, default=6 * 3600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database-url", default=ADMIN_URL,
                        help="an existing PostgreSQL database to create the bench one from")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--bench-database", default=SOAK_DB)
    parser.add_argument("--no-semantic-search", action="store_true",
                        help="workers embed nothing (DOCFLOW_SEMANTIC_SEARCH=false): the stack's "
                        "own cost without the embedding model's")
    args = parser.parse_args(argv)
    if args.count < 1 or args.slice < 1:
        parser.error("--count and --slice must be at least 1")

    signal.signal(signal.SIGTERM, _raise_interrupt)
    work = Path(tempfile.mkdtemp(prefix="docflow-soak-"))
    passed = True
    try:
        err.print(f"writing {args.count:,} files in slices of {args.slice:,} under {work}")
        folders = write_slices(work / "files", args.count, args.slice, args.seed)
        console.print(f"Machine: {os.cpu_count()} CPUs, CPU busy before the run "
                      f"{psutil.cpu_percent(interval=1.0):.0f}%; {args.count:,} small unique "
                      f"documents (3 text : 1 one-page PDF), concurrency {args.concurrency}.")
        semantic = {"DOCFLOW_SEMANTIC_SEARCH": "false"} if args.no_semantic_search else {}
        console.print("Embeddings: " + ("off (DOCFLOW_SEMANTIC_SEARCH=false)" if semantic
                                        else "on (the default)"))
        if args.backend in ("embedded", "both"):
            run = run_backend("embedded", folders, work / "embedded", args.concurrency, semantic,
                              args.calls, args.slice_timeout, _embedded_sizes)
            passed &= report(run)
        if args.backend in ("postgres", "both"):
            with _postgres(args.database_url, args.bench_database, args.redis_url) as url:
                env = {"DOCFLOW_DATABASE_URL": url, "DOCFLOW_BROKER_URL": args.redis_url,
                       "DOCFLOW_SEARCH": "postgres", **semantic}
                run = run_backend("postgres", folders, work / "postgres", args.concurrency, env,
                                  args.calls, args.slice_timeout, _postgres_sizes(url))
            passed &= report(run)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted; everything this run started has been stopped")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        shutil.rmtree(work, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
