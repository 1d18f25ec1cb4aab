"""Throughput: N documents through the full embedded stack, and through bare extraction, in one run.

    .venv/bin/python bench/throughput.py [--count N] [--concurrency C]
                                         [--source auto|shared|generated|small-text]
                                         [--documents-per-task 1,16 [--rounds R]
                                          [--baseline-code DIR]]

1. Full stack: `python -m docflow serve` (API, embedded Valkey, Celery prefork workers with
   --concurrency C, housekeeper/indexer) in a temporary data dir on a free port. The files go to
   POST /api/batch-upload in chunks (one batch per chunk); the clock runs from the first upload
   byte until every document is completed or failed, and on until every completed one is found
   by /api/search. Peak RSS of the API, the worker main process and its pool children is sampled
   every 0.2 s. SIGINT stops the stack at the end.
2. Bare: the same files through `docflow.pipeline.process_document` in a ProcessPoolExecutor(C),
   then, in the same pool, the PDF subset through the pipeline again and through pypdfium2 alone
   (open, per page get_textpage().get_text_range()): the cost of the pipeline over the library.

Documents (`auto`): real files from ../shared/datasets/mixed_formats and kleister_nda (train and
unlabeled), shuffled with --seed and taken round-robin; without those folders, the demo corpus
that `docflow.demo.write_demo_corpus` writes. Identical bytes are processed once on purpose (the
repeat reuses the first result), so files are unique while the sources last; past that, repeated
PDFs get a trailing comment to make their bytes unique and other repeats stay identical; the
table says how many byte-distinct documents there were.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
MIXED = DATASETS / "mixed_formats"
KLEISTER = DATASETS / "kleister_nda"
REFERENCE_LOAD = 500_000
MIB = 1024 * 1024

# Wide enough for the tables when the output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)


# -- the documents ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    name: str  # the file name sent with the upload
    path: Path  # where its bytes are
    origin: str  # "mixed_formats", "kleister_nda" or "generated"
    sha256: str
    is_pdf: bool


@dataclass
class Corpus:
    docs: list[Doc]
    description: str
    uniquified: int = 0  # repeated PDFs given a trailing comment

    @property
    def unique(self) -> int:
        return len({d.sha256 for d in self.docs})


def _doc(path: Path, origin: str, name: str | None = None) -> Doc:
    data = path.read_bytes()
    return Doc(name or path.name, path, origin, hashlib.sha256(data).hexdigest(),
               b"%PDF" in data[:1024])


def _mixed_files() -> list[Path]:
    if not MIXED.is_dir():
        return []
    return sorted(p for p in MIXED.rglob("*") if p.is_file() and p.name != "SOURCES.tsv")


def _kleister_files() -> list[Path]:
    paths: dict[Path, None] = {}
    for jsonl in (KLEISTER / "train.jsonl", KLEISTER / "unlabeled.jsonl"):
        if not jsonl.is_file():
            continue
        with jsonl.open(encoding="utf-8") as rows:
            for line in rows:
                if line.strip() and (rel := json.loads(line).get("path")):
                    path = (jsonl.parent / rel).resolve()
                    if path.is_file():
                        paths[path] = None
    return sorted(paths)


def shared_corpus(count: int, seed: int, scratch: Path) -> Corpus:
    sources = [(name, files) for name, files in
               (("mixed_formats", _mixed_files()), ("kleister_nda", _kleister_files())) if files]
    rng = random.Random(seed)
    for _, files in sources:
        rng.shuffle(files)
    order: list[tuple[str, Path]] = []  # round-robin over the sources while each lasts
    for i in range(max(len(files) for _, files in sources)):
        order += [(name, files[i]) for name, files in sources if i < len(files)]
    docs: list[Doc] = []
    uniquified = 0
    for n in range(count):
        origin, path = order[n % len(order)]
        copy = n // len(order)
        doc = _doc(path, origin)
        if copy and doc.is_pdf:
            # Bytes after %%EOF that are a PDF comment: readers ignore them, the hash changes.
            scratch.mkdir(parents=True, exist_ok=True)
            unique = scratch / f"copy{copy}-{path.name}"
            unique.write_bytes(path.read_bytes() + b"\n%%docflow-bench copy %d\n" % copy)
            doc = _doc(unique, origin, name=path.name)
            uniquified += 1
        docs.append(doc)
    taken = Counter(d.origin for d in docs)
    parts = [f"{taken[name]} from {len(files)} {name} files" for name, files in sources]
    return Corpus(docs, f"shared datasets ({DATASETS}): " + " + ".join(parts), uniquified)


def small_text_corpus(count: int, seed: int, scratch: Path) -> Corpus:
    """Small unique text files (a few hundred bytes each): the stack's own cost per document,
    where the pipeline needs well under a millisecond."""
    rng = random.Random(seed)
    words = ["invoice", "total", "due", "payment", "agreement", "parties", "governing", "law",
             "letter", "dear", "sir", "thank", "you", "report", "quarter", "revenue", "meeting",
             "notes", "order", "number", "delivery"]
    scratch.mkdir(parents=True, exist_ok=True)
    docs = []
    for i in range(count):
        path = scratch / f"note-{i:06d}.txt"
        body = " ".join(rng.choice(words) for _ in range(60))
        path.write_text(f"Note {i} ({seed})\n{body}\n", encoding="utf-8")
        docs.append(_doc(path, "generated"))
    return Corpus(docs, f"{count} small unique text files (seed {seed})")


def generated_corpus(count: int, seed: int, scratch: Path) -> Corpus:
    from docflow.demo import write_demo_corpus

    broken = min(3, count)
    files = write_demo_corpus(scratch, count=count, broken=broken, seed=seed)
    docs = [_doc(f.path, "generated") for f in files]
    return Corpus(docs, f"generated by docflow.demo.write_demo_corpus (seed {seed}, "
                  f"{broken} broken on purpose)")


# -- peak memory --------------------------------------------------------------------------------


@dataclass
class RssSampler:
    """Samples the RSS and CPU time of every descendant of `root_pid`, by role, every
    `interval` seconds."""

    root_pid: int
    role_of: Callable[[psutil.Process], str]
    interval: float = 0.2
    peak: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # one process
    peak_sum: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # all of a role
    peak_total: int = 0
    seen: dict[int, psutil.Process] = field(default_factory=dict)  # every descendant met
    _roles: dict[int, str] = field(default_factory=dict)
    _cpu: dict[int, float] = field(default_factory=dict)  # user + system seconds, last seen
    _cpu_mark: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.root_pid).children(recursive=True)
        except psutil.Error:
            return []

    def sample(self) -> None:
        sums: dict[str, int] = defaultdict(int)
        for proc in self.descendants():
            # Keep the first object per pid: it remembers the create time, so a later
            # kill can never hit a reused pid.
            proc = self.seen.setdefault(proc.pid, proc)
            try:
                role = self._roles.get(proc.pid, "other")
                if role == "other":  # seen between fork and exec: look again once it is itself
                    role = self._roles[proc.pid] = self.role_of(proc)
                rss = proc.memory_info().rss
                times = proc.cpu_times()
            except psutil.Error:
                continue
            self._cpu[proc.pid] = times.user + times.system
            self.peak[role] = max(self.peak[role], rss)
            sums[role] += rss
        for role, total in sums.items():
            self.peak_sum[role] = max(self.peak_sum[role], total)
        self.peak_total = max(self.peak_total, sum(sums.values()))

    def mark(self) -> None:
        """Start counting CPU time from now (what processes spent before is left out)."""
        self.sample()
        self._cpu_mark = dict(self._cpu)

    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds by role since `mark`, up to the last sample (a process that exited
        between two samples loses at most one interval)."""
        self.sample()
        out: dict[str, float] = defaultdict(float)
        for pid, seconds in self._cpu.items():
            out[self._roles.get(pid, "other")] += seconds - self._cpu_mark.get(pid, 0.0)
        return dict(out)


def _is_worker(cmdline: list[str]) -> bool:
    return "docflow" in cmdline and "worker" in cmdline


def stack_role(proc: psutil.Process) -> str:
    cmdline = proc.cmdline()
    if any("uvicorn" in part for part in cmdline):
        return "api"
    if _is_worker(cmdline):
        # Prefork pool children are forks of the worker main: same command line, worker parent.
        parent = proc.parent()
        return "pool" if parent is not None and _is_worker(parent.cmdline()) else "worker"
    if "housekeeper" in cmdline:
        return "housekeeper"
    if any("valkey" in part for part in cmdline):
        return "broker"
    return "other"


@contextlib.contextmanager
def no_interrupt() -> Iterator[None]:
    """Ignore Ctrl-C for a while (cleanup), then restore the previous handler."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def kill_leftovers(procs: dict[int, psutil.Process]) -> int:
    """SIGKILL whichever of these processes still run (same pid and create time); count them."""
    alive = []
    for proc in procs.values():
        with contextlib.suppress(psutil.Error):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
    return len(alive)


# -- the full stack -----------------------------------------------------------------------------


@dataclass
class StackResult:
    docs: int = 0
    completed: int = 0
    failed: int = 0
    unfinished: int = 0
    upload_s: float = 0.0
    wall_s: float = 0.0  # first upload byte -> all terminal
    searchable_s: float | None = None  # first upload byte -> every completed one searchable
    indexed: int = 0
    reused_at_upload: int = 0  # documents already "completed" in the upload reply
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # code, name, message
    peak: dict[str, int] = field(default_factory=dict)
    peak_sum: dict[str, int] = field(default_factory=dict)
    peak_total: int = 0
    exit_code: int | None = None
    stopped_in_s: float = 0.0
    strays: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by role, upload -> end

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())


class Stack:
    def __init__(self, workdir: Path, concurrency: int,
                 env_extra: dict[str, str] | None = None) -> None:
        from docflow.broker import free_port

        workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = workdir / "data"
        self.log_path = workdir / "serve.out"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
        env.update(env_extra or {})
        with self.log_path.open("wb") as log:
            # Own session: a Ctrl-C at the terminal reaches only this script, which stops the
            # stack itself (SIGINT, as a user would) in its `finally`.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "docflow", "serve", "--port", str(self.port),
                 "--data-dir", str(self.data_dir), "--concurrency", str(concurrency)],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir,
                start_new_session=True)
        self.client = httpx.Client(base_url=self.url, timeout=300)
        self.sampler = RssSampler(self.process.pid, stack_role).start()

    def output(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docflow serve exited with code {self.process.returncode}"
                                   f":\n{self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if self.client.get("/health").status_code == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"docflow serve not healthy in {timeout:.0f}s:\n{self.output()}")

    def stop(self, result: StackResult) -> None:
        """SIGINT, as Ctrl-C would; then make sure nothing it started is left running."""
        with no_interrupt():
            self.sampler.sample()  # the last look at the process tree before it goes away
            self.sampler.stop()
            self.client.close()
            started = time.perf_counter()
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
                try:
                    self.process.wait(90)
                except subprocess.TimeoutExpired:
                    err.print("[yellow]docflow serve did not stop in 90 s after SIGINT; "
                              "killing it")
                    self.process.kill()
                    self.process.wait()
            result.stopped_in_s = time.perf_counter() - started
            result.exit_code = self.process.returncode
            result.strays = kill_leftovers(self.sampler.seen)


def _chunks(docs: list[Doc], size: int) -> Iterator[list[Doc]]:
    for start in range(0, len(docs), size):
        yield docs[start : start + size]


def run_stack(corpus: Corpus, concurrency: int, chunk: int, workdir: Path,
              timeout: float, env_extra: dict[str, str] | None = None) -> StackResult:
    result = StackResult(docs=len(corpus.docs))
    stack = Stack(workdir, concurrency, env_extra)
    try:
        err.print(f"stack: starting docflow serve on {stack.url} (concurrency {concurrency})")
        stack.wait_healthy()
        batches: list[str] = []
        err.print(f"stack: uploading {len(corpus.docs)} documents, {chunk} per batch")
        stack.sampler.mark()
        started = time.perf_counter()
        for part in _chunks(corpus.docs, chunk):
            files = [("files", (d.name, d.path.read_bytes(), "application/octet-stream"))
                     for d in part]
            reply = stack.client.post("/api/batch-upload", files=files,
                                      data={"batch_name": f"bench-{len(batches)}"})
            if reply.status_code != 202:
                raise RuntimeError(f"batch upload: HTTP {reply.status_code}: {reply.text[:500]}")
            body = reply.json()
            batches.append(body["batch_id"])
            result.reused_at_upload += sum(d["status"] == "completed" for d in body["documents"])
        result.upload_s = time.perf_counter() - started
        _wait_terminal(stack, batches, started, timeout, result)
        _wait_searchable(stack, batches, started, result)
        result.cpu = stack.sampler.cpu_by_role()
        result.failures = _failures(stack, batches)
    except Exception:
        err.print(f"[red]stack run failed; the end of its output:[/]\n{stack.output()}")
        raise
    finally:
        stack.stop(result)
        result.peak = dict(stack.sampler.peak)
        result.peak_sum = dict(stack.sampler.peak_sum)
        result.peak_total = stack.sampler.peak_total
    return result


def _wait_terminal(stack: Stack, batches: list[str], started: float, timeout: float,
                   result: StackResult) -> None:
    last_note = 0.0
    while True:
        totals: Counter[str] = Counter()
        for batch_id in batches:
            status = stack.client.get(f"/api/batch-status/{batch_id}").json()
            totals.update({k: status[k] for k in ("total", "completed", "failed")})
        now = time.perf_counter()
        done = totals["completed"] + totals["failed"]
        if done >= totals["total"]:
            result.wall_s = now - started
            break
        if now - started > timeout:
            result.wall_s = now - started
            err.print(f"[red]stack: gave up after {timeout:.0f}s with {done}/{totals['total']} "
                      "documents terminal")
            break
        if now - last_note > 10:
            left = totals["total"] - done
            err.print(f"stack: {done}/{totals['total']} terminal after {now - started:.0f}s"
                      + (f"; waiting for {_unfinished(stack, batches)}" if left <= 5 else ""))
            last_note = now
        time.sleep(0.25)
    result.completed, result.failed = totals["completed"], totals["failed"]
    result.unfinished = totals["total"] - done


def _unfinished(stack: Stack, batches: list[str]) -> str:
    names = []
    for batch_id in batches:
        for status in ("processing", "queued"):
            page = stack.client.get("/api/documents", params={
                "batch_id": batch_id, "status": status, "limit": 5}).json()
            names += [f"{d['filename']} ({status})" for d in page["documents"]]
    return ", ".join(names[:5])


def _indexed(stack: Stack, batches: list[str]) -> int:
    total = 0
    for batch_id in batches:
        # Keyword mode: "*" matches every document there (hybrid ranks by meaning as well).
        reply = stack.client.get("/api/search", params={"q": "*", "mode": "keyword",
                                                        "batch_id": batch_id, "limit": 1})
        reply.raise_for_status()
        total += reply.json()["total"]
    return total


def _wait_searchable(stack: Stack, batches: list[str], started: float, result: StackResult,
                     timeout: float = 120) -> None:
    deadline = time.perf_counter() + timeout
    while True:
        result.indexed = _indexed(stack, batches)
        if result.indexed >= result.completed:
            result.searchable_s = time.perf_counter() - started
            return
        if time.perf_counter() > deadline:
            err.print(f"[yellow]stack: only {result.indexed}/{result.completed} completed "
                      f"documents searchable {timeout:.0f}s after the last one finished")
            return
        time.sleep(0.25)


def _failures(stack: Stack, batches: list[str]) -> list[tuple[str, str, str]]:
    out = []
    for batch_id in batches:
        params: dict[str, object] = {"batch_id": batch_id, "status": "failed", "limit": 1000}
        while True:
            page = stack.client.get("/api/documents", params=params).json()
            for doc in page["documents"]:
                error = doc.get("error") or {}
                out.append((error.get("code", "?"), doc["filename"], error.get("message", "")))
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
    return out


# -- bare extraction ----------------------------------------------------------------------------


@dataclass
class BareResult:
    label: str
    docs: int
    completed: int
    failed: int
    wall_s: float
    failures: list[tuple[str, str, str]]  # code, name, message
    timed_out: bool = False
    cpu_s: float = 0.0  # CPU seconds of the pool processes during the pass


def _pool_init() -> None:
    # The parent handles Ctrl-C and tears the pool down; a traceback per child helps no one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Library warnings (e.g. bs4 on XML-looking HTML) would repeat per document on the terminal;
    # the stack's workers send theirs to log files.
    warnings.simplefilter("ignore")
    import pypdfium2  # noqa: F401

    from docflow.pipeline import process_document

    # Whatever loads lazily on the first document loads here, before the clock starts (the
    # stack's workers, by contrast, pay for it inside the measured run).
    with contextlib.suppress(Exception):
        process_document(b"Invoice 42\nTotal due: 10.00 EUR by 1 March 2024\n", "warm.txt")


def _pool_ready(delay: float) -> int:
    time.sleep(delay)
    return os.getpid()


def _pipeline_one(path: str, name: str) -> tuple[str | None, str]:
    from docflow.pipeline import DocumentError, process_document

    data = Path(path).read_bytes()
    try:
        process_document(data, name)
    except DocumentError as exc:
        return exc.code, exc.message
    except Exception as exc:  # a bug, not a bad document: the stack would record it too
        return f"internal:{type(exc).__name__}", str(exc)[:200]
    return None, ""


def _pdfium_one(path: str, name: str) -> tuple[str | None, str]:
    import pypdfium2 as pdfium

    data = Path(path).read_bytes()
    try:
        pdf = pdfium.PdfDocument(data)
        try:
            for index in range(len(pdf)):
                page = pdf[index]
                textpage = page.get_textpage()
                textpage.get_text_range()
                textpage.close()
                page.close()
        finally:
            pdf.close()
    except pdfium.PdfiumError as exc:
        return "pdfium_error", str(exc)[:200]
    return None, ""


def _bare_pass(pool: cf.ProcessPoolExecutor, sampler: RssSampler, label: str,
               func: Callable[..., Any], docs: list[Doc], timeout: float) -> BareResult:
    sampler.mark()
    started = time.perf_counter()
    futures = {pool.submit(func, str(d.path), d.name): d for d in docs}
    done, pending = cf.wait(futures, timeout=timeout)
    wall = time.perf_counter() - started
    cpu_s = sum(sampler.cpu_by_role().values())
    failures = []
    for future, doc in futures.items():
        if future in pending:
            failures.append(("bench_timeout", doc.name, f"not done after {timeout:.0f}s"))
            continue
        try:
            code, message = future.result()
        except Exception as exc:  # the pool itself broke (a child died)
            code, message = f"pool:{type(exc).__name__}", str(exc)[:200]
        if code is not None:
            failures.append((code, doc.name, message))
    if pending:
        err.print(f"[red]{label}: {len(pending)} documents not done after {timeout:.0f}s; "
                  "their processes are killed")
    return BareResult(label, len(docs), len(docs) - len(failures), len(failures), wall, failures,
                      timed_out=bool(pending), cpu_s=cpu_s)


@dataclass
class BareRun:
    passes: list[BareResult]
    peak_child: int
    peak_sum: int


def run_bare(corpus: Corpus, concurrency: int, timeout: float) -> BareRun:
    pdfs = [d for d in corpus.docs if d.is_pdf]
    sampler = RssSampler(os.getpid(), lambda _proc: "pool")
    pool = cf.ProcessPoolExecutor(concurrency, initializer=_pool_init)
    try:
        # Start and warm every pool process before any clock runs (and before the sampler
        # thread starts, so no process is forked while it runs).
        list(pool.map(_pool_ready, [0.3] * concurrency))
        sampler.start()
        err.print(f"bare: {len(corpus.docs)} documents through process_document")
        passes = [_bare_pass(pool, sampler, "bare pipeline", _pipeline_one, corpus.docs, timeout)]
        if pdfs and not passes[-1].timed_out:
            err.print(f"bare: {len(pdfs)} PDFs through process_document, then pypdfium2 alone")
            passes.append(_bare_pass(pool, sampler, "bare pipeline, PDFs", _pipeline_one, pdfs,
                                     timeout))
            if not passes[-1].timed_out:
                passes.append(_bare_pass(pool, sampler, "bare pypdfium2, PDFs", _pdfium_one,
                                         pdfs, timeout))
        if not passes[-1].timed_out:
            pool.shutdown(wait=True)
        return BareRun(passes, sampler.peak["pool"], sampler.peak_sum["pool"])
    finally:
        with no_interrupt():
            sampler.sample()
            sampler.stop()
            pool.shutdown(wait=False, cancel_futures=True)
            kill_leftovers(sampler.seen)


# -- the report ---------------------------------------------------------------------------------


def _rate(docs: int, seconds: float) -> float:
    return docs / seconds if seconds > 0 else 0.0


def _mib(n: int | None) -> str:
    return f"{n / MIB:,.0f}" if n else "-"


def _hours(rate: float) -> str:
    return f"{REFERENCE_LOAD / rate / 3600:,.1f} h" if rate > 0 else "-"


def report(args: argparse.Namespace, corpus: Corpus, stack: StackResult, bare: BareRun) -> None:
    cores = psutil.cpu_count(logical=False)
    console.print(f"[bold]Machine[/]: {os.cpu_count()} CPUs ({cores} physical), "
                  f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
                  f"{platform.system()} {platform.machine()}, Python {platform.python_version()}; "
                  f"CPU busy before the run {args.busy_before:.0f}%, load average 1 min "
                  f"{args.load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    if args.busy_before > 25:
        console.print("[yellow]Other work was using the CPUs when the run started: the rates "
                      "below are lower than this machine can do.")
    pdfs = sum(d.is_pdf for d in corpus.docs)
    console.print(f"[bold]Source[/]: {corpus.description}; {len(corpus.docs)} documents, "
                  f"{corpus.unique} with distinct bytes, {pdfs} PDFs"
                  + (f", {corpus.uniquified} repeated PDFs made unique" if corpus.uniquified
                     else ""))
    console.print(f"[bold]Concurrency[/]: {args.concurrency} worker processes (stack) and "
                  f"{args.concurrency} pool processes (bare); {args.chunk} files per upload")

    stack_rate = _rate(stack.docs, stack.wall_s)
    bare_all = bare.passes[0]
    bare_rate = _rate(bare_all.docs, bare_all.wall_s)
    table = Table(title="Throughput")
    for column in ("run", "docs", "completed", "failed", "wall s", "docs/s", "500K docs",
                   "CPU s", "docs/CPU-s"):
        table.add_column(column, justify="left" if column == "run" else "right")
    failed = str(stack.failed) + (f" (+{stack.unfinished} unfinished)" if stack.unfinished
                                  else "")
    table.add_row("full stack (upload -> all terminal)", str(stack.docs), str(stack.completed),
                  failed, f"{stack.wall_s:.1f}", f"{stack_rate:.1f}", _hours(stack_rate),
                  f"{stack.cpu_total:.1f}", f"{_rate(stack.docs, stack.cpu_total):.1f}")
    for p in bare.passes:
        rate = _rate(p.docs, p.wall_s)
        table.add_row(p.label, str(p.docs), str(p.completed), str(p.failed), f"{p.wall_s:.1f}",
                      f"{rate:.1f}", _hours(rate), f"{p.cpu_s:.1f}",
                      f"{_rate(p.docs, p.cpu_s):.1f}")
    console.print(table)

    details = Table(title="Details", show_header=False)
    details.add_column("what")
    details.add_column("value", justify="right")
    details.add_row("stack rate / bare pipeline rate",
                    f"{stack_rate / bare_rate:.2f}" if bare_rate else "-")
    if len(bare.passes) == 3:
        pipe, lib = bare.passes[1], bare.passes[2]
        details.add_row("bare pipeline / bare pypdfium2 rate (PDFs)",
                        f"{_rate(pipe.docs, pipe.wall_s) / _rate(lib.docs, lib.wall_s):.2f}"
                        if lib.wall_s and pipe.wall_s else "-")
    if stack.cpu_total and bare_all.cpu_s:
        # CPU time does not count what other work on the machine takes: the steadier ratio.
        details.add_row("stack / bare pipeline, docs per CPU-second",
                        f"{bare_all.cpu_s / stack.cpu_total:.2f}")
        details.add_row("stack CPU ms per document, by process",
                        ", ".join(f"{role} {1000 * sec / stack.docs:.0f}"
                                  for role, sec in sorted(stack.cpu.items(),
                                                          key=lambda kv: -kv[1])))
    details.add_row("upload of all files (s)", f"{stack.upload_s:.1f}")
    details.add_row("upload -> all searchable (s)",
                    f"{stack.searchable_s:.1f}" if stack.searchable_s is not None
                    else f"not reached ({stack.indexed}/{stack.completed})")
    details.add_row("reused at upload (identical bytes already done)",
                    str(stack.reused_at_upload))
    details.add_row("peak RSS, API (MiB)", _mib(stack.peak.get("api")))
    details.add_row("peak RSS, worker main (MiB)", _mib(stack.peak.get("worker")))
    details.add_row("peak RSS, largest worker pool child (MiB)", _mib(stack.peak.get("pool")))
    details.add_row("peak RSS, worker pool children summed (MiB)",
                    _mib(stack.peak_sum.get("pool")))
    details.add_row("peak RSS, housekeeper / broker (MiB)",
                    f"{_mib(stack.peak.get('housekeeper'))} / {_mib(stack.peak.get('broker'))}")
    details.add_row("peak RSS, whole stack summed (MiB)", _mib(stack.peak_total))
    details.add_row("peak RSS, bare pool child / summed (MiB)",
                    f"{_mib(bare.peak_child)} / {_mib(bare.peak_sum)}")
    details.add_row(f"projection: {REFERENCE_LOAD:,} docs at the stack rate, "
                    f"concurrency {args.concurrency}", _hours(stack_rate))
    details.add_row(f"projection: {REFERENCE_LOAD:,} docs at the bare pipeline rate",
                    _hours(bare_rate))
    details.add_row("stack stop (SIGINT -> exit code, seconds)",
                    f"{stack.exit_code}, {stack.stopped_in_s:.1f}")
    details.add_row("stray processes killed after the stack stopped", str(stack.strays))
    console.print(details)

    stack_codes = Counter(code for code, _, _ in stack.failures)
    bare_codes = Counter(code for code, _, _ in bare_all.failures)
    if stack_codes or bare_codes:
        examples: dict[str, list[str]] = defaultdict(list)
        for code, name, _ in stack.failures + bare_all.failures:
            if name not in examples[code]:
                examples[code].append(name)
        reasons = Table(title="Failures by code")
        for column in ("code", "stack", "bare pipeline", "files (first 4)"):
            reasons.add_column(column, justify="right" if column in ("stack", "bare pipeline")
                               else "left")
        for code in sorted(set(stack_codes) | set(bare_codes)):
            style = "red" if stack_codes[code] != bare_codes[code] else None
            names = examples[code]
            reasons.add_row(code, str(stack_codes[code]), str(bare_codes[code]),
                            ", ".join(names[:4]) + (f" (+{len(names) - 4})" if len(names) > 4
                                                    else ""), style=style)
        console.print(reasons)
    if args.show_failures:
        for code, name, message in sorted(stack.failures):
            console.print(f"  {code:20} {name}: {message}", markup=False, highlight=False)


def compare_per_task(args: argparse.Namespace, corpus: Corpus, values: list[str],
                     workdir: Path) -> int:
    """The stack once per documents-per-task value, interleaved over rounds (a loaded machine
    drifts: each value sees the same drift), and CPU-ms per document by process role."""
    runs: dict[str, list[StackResult]] = defaultdict(list)
    # With --baseline-code, each value runs on that checkout too, in the same rounds.
    codes = [("", str(REPO))]
    if args.baseline_code:
        codes.insert(0, (" baseline", str(Path(args.baseline_code).resolve())))
    for round_no in range(args.rounds):
        for value in values:
            for suffix, code in codes:
                label = value + suffix
                err.print(f"round {round_no + 1}/{args.rounds}: documents per task {label}")
                runs[label].append(run_stack(
                    corpus, args.concurrency, args.chunk,
                    workdir / f"r{round_no}-{value}{suffix.replace(' ', '-')}", args.timeout,
                    dict(args.env, DOCFLOW_DOCUMENTS_PER_TASK=value, PYTHONPATH=code)))
    console.print(f"[bold]Source[/]: {corpus.description}; concurrency {args.concurrency}; "
                  f"{args.rounds} rounds, interleaved; load average 1 min "
                  f"{args.load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    roles = sorted({role for results in runs.values() for r in results for role in r.cpu})
    table = Table(title="CPU-ms per document by documents per task (median of rounds)")
    for column in ("documents per task", "completed", "wall s", "docs/s", "CPU-ms/doc",
                   *roles):
        table.add_column(column, justify="right")
    unfinished = 0
    for value, results in runs.items():
        def median(get: Callable[[StackResult], float],
                   results: list[StackResult] = results) -> float:
            return sorted(get(r) for r in results)[len(results) // 2]

        unfinished += sum(r.unfinished for r in results)
        table.add_row(value, "/".join(str(r.completed) for r in results),
                      f"{median(lambda r: r.wall_s):.1f}",
                      f"{median(lambda r: _rate(r.docs, r.wall_s)):.1f}",
                      f"{median(lambda r: 1000 * r.cpu_total / r.docs):.2f}",
                      *(f"{median(lambda r, role=role: 1000 * r.cpu.get(role, 0) / r.docs):.2f}"
                        for role in roles))
    console.print(table)
    for value, results in runs.items():
        console.print(f"documents per task {value}, CPU-ms/doc each round: "
                      + ", ".join(f"{1000 * r.cpu_total / r.docs:.2f}" for r in results))
    return 0 if unfinished == 0 else 1


# -- main ---------------------------------------------------------------------------------------


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300, help="documents (default 300)")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1,
                        help="worker processes and pool processes (default: one per CPU)")
    parser.add_argument("--source", choices=("auto", "shared", "generated", "small-text"),
                        default="auto",
                        help="auto: the shared datasets when present, else generated files; "
                        "small-text: small unique text files only (the stack's own cost)")
    parser.add_argument("--chunk", type=int, default=100, help="files per batch upload")
    parser.add_argument("--seed", type=int, default=0, help="shuffle / generator seed")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds allowed for each run to finish its documents")
    parser.add_argument("--show-failures", action="store_true",
                        help="also list every failed document with its message")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (data dir, serve log)")
    parser.add_argument("--documents-per-task", default=None,
                        help="small documents per task message (DOCFLOW_DOCUMENTS_PER_TASK); "
                        "several, comma-separated (e.g. 1,16), run the stack once per value, "
                        "interleaved --rounds times, and compare their CPU per document")
    parser.add_argument("--no-semantic-search", action="store_true",
                        help="workers embed nothing (DOCFLOW_SEMANTIC_SEARCH=false): the stack's "
                        "own cost without the embedding model's")
    parser.add_argument("--rounds", type=int, default=1,
                        help="with several --documents-per-task: rounds of all values")
    parser.add_argument("--baseline-code", default=None, metavar="DIR",
                        help="with --documents-per-task: also run each value on the docflow "
                        "checkout in DIR (e.g. `git archive` of the base commit), interleaved "
                        "in the same rounds, as the baseline")
    args = parser.parse_args(argv)
    if args.count < 1 or args.concurrency < 1 or args.chunk < 1:
        parser.error("--count, --concurrency and --chunk must be at least 1")

    signal.signal(signal.SIGTERM, _raise_interrupt)
    # Other work on the machine skews every number below: say how busy it was.
    args.busy_before = psutil.cpu_percent(interval=1.0)
    args.load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="docflow-bench-"))
    try:
        source = args.source
        if source == "auto":
            source = "shared" if _mixed_files() or _kleister_files() else "generated"
        if source == "shared":
            if not (_mixed_files() or _kleister_files()):
                parser.error(f"no shared datasets under {DATASETS}")
            corpus = shared_corpus(args.count, args.seed, workdir / "copies")
        elif source == "small-text":
            corpus = small_text_corpus(args.count, args.seed, workdir / "corpus")
        else:
            corpus = generated_corpus(args.count, args.seed, workdir / "corpus")
        per_task = [v.strip() for v in (args.documents_per_task or "").split(",") if v.strip()]
        args.env = {"DOCFLOW_SEMANTIC_SEARCH": "false"} if args.no_semantic_search else {}
        if len(per_task) > 1 or (per_task and args.baseline_code):
            return compare_per_task(args, corpus, per_task, workdir)
        env = dict(args.env, **({"DOCFLOW_DOCUMENTS_PER_TASK": per_task[0]} if per_task else {}))
        stack = run_stack(corpus, args.concurrency, args.chunk, workdir, args.timeout, env)
        bare = run_bare(corpus, args.concurrency, args.timeout)
        report(args, corpus, stack, bare)
        return 0 if stack.unfinished == 0 else 1
    except KeyboardInterrupt:
        err.print("[yellow]interrupted; everything this run started has been stopped")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        if args.keep:
            err.print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
