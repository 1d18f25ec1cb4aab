"""Upload rate over loopback, and the API's memory while it takes the files, in one run.

    .venv/bin/python bench/upload.py [--small 10000] [--big 200] [--big-mb 20]
                                     [--concurrency 8] [--keep]

Two sets of files: --small text files of 1-8 KB in 20 folders, and --big files of --big-mb
each (random bytes, every file unique). Each set is sent two ways:

- `docflow upload`: the batch upload client (docflow.client) as the command runs it, in this
  process: lazy walk, SHA-256 and an idempotency key per file, a checkpoint, --concurrency
  requests in flight to POST /api/batches/{id}/files (up to 50 files or 32 MB a request).
- baseline: plain sequential httpx posts of the same files to POST /api/batch-upload (1,000
  small files or 10 big files a request), with no hashing, checkpoint or retries.

Every run gets a fresh data dir, an embedded Valkey broker and the API alone (uvicorn, no
workers: no CPU goes to processing, and tasks wait in the broker). The API process's RSS and
CPU time are sampled every 50 ms. Client and API share this machine's CPUs, as on loopback.
Everything started is stopped at the end, and the files are removed unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from docflow.broker import EmbeddedBroker, free_port  # noqa: E402
from docflow.client import Checkpoint, DocflowApi, Uploader, UploadOptions  # noqa: E402

MIB = 1024 * 1024
console = Console(width=140)


@dataclass
class Result:
    case: str
    method: str
    files: int
    nbytes: int
    seconds: float
    api_rss_start: int
    api_rss_peak: int
    api_cpu: float
    client_rss_growth: int
    documents: int

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / MIB / self.seconds


def write_small(root: Path, count: int, seed: int = 1) -> list[Path]:
    rng = random.Random(seed)
    words = ["invoice", "total", "amount", "due", "payment", "contract", "party", "agreement",
             "report", "quarter", "revenue", "letter", "dear", "receipt", "customer", "order"]
    paths = []
    for i in range(count):
        folder = root / f"f{i % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"doc{i:06d}.txt"
        size = rng.randint(1024, 8192)
        text = f"Document {i}. " + " ".join(rng.choice(words) for _ in range(size // 6))
        path.write_text(text[:size])
        paths.append(path)
    return paths


def write_big(root: Path, count: int, megabytes: int) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    block = os.urandom(megabytes * MIB - 64)
    paths = []
    for i in range(count):
        path = root / f"big{i:04d}.bin"
        with path.open("wb") as f:
            f.write(f"unique header {i:08d}".encode().ljust(64, b"."))  # each file distinct
            f.write(block)
        paths.append(path)
    return paths


class Api:
    """An embedded broker and the API (uvicorn) on a fresh data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.broker = EmbeddedBroker(data_dir / "broker", data_dir / "broker" / "url")
        broker_url = self.broker.start()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
        env.update(DOCFLOW_DATA_DIR=str(data_dir), DOCFLOW_BROKER_URL=broker_url,
                   DOCFLOW_LOG_LEVEL="WARNING")
        self.log = (data_dir / "api.out").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "docflow.api.app:create_app",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
             "--no-access-log"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/api/limits", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the API did not start; see {data_dir / 'api.out'}")
            time.sleep(0.2)
        self.ps = psutil.Process(self.process.pid)

    def document_count(self) -> int:
        return int(httpx.get(f"{self.url}/api/documents", params={"limit": 1, "count": True},
                             timeout=30).json()["total"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        self.broker.stop()


class Sampler:
    """Peak RSS of a few processes, every `every` seconds, from a thread."""

    def __init__(self, processes: list[psutil.Process], every: float = 0.05) -> None:
        self.processes, self.every = processes, every
        self.peaks = [p.memory_info().rss for p in processes]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for i, p in enumerate(self.processes):
                with suppress(psutil.Error):
                    self.peaks[i] = max(self.peaks[i], p.memory_info().rss)

    @contextmanager
    def running(self) -> Iterator[Sampler]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def send_with_client(api: Api, folder: Path, work: Path, concurrency: int) -> None:
    options = UploadOptions(directory=folder, url=api.url, concurrency=concurrency,
                            checkpoint=work / "upload.sqlite",
                            batch_ids_out=work / "batch_ids.json")

    async def run() -> None:
        client = DocflowApi(api.url, connections=concurrency)
        checkpoint = Checkpoint(options.checkpoint, folder, api.url)  # type: ignore[arg-type]
        try:
            summary = await Uploader(options, checkpoint, client).run()
        finally:
            checkpoint.close()
            await client.aclose()
        if summary.failed or summary.stopped:
            raise RuntimeError(f"upload failed: {summary.failures[:3]} {summary.stopped}")

    asyncio.run(run())


def send_baseline(api: Api, files: list[Path], per_request: int) -> None:
    with httpx.Client(base_url=api.url, timeout=600) as client:
        for start in range(0, len(files), per_request):
            with ExitStack() as opened:
                parts = [("files", (p.name, opened.enter_context(p.open("rb"))))
                         for p in files[start:start + per_request]]
                reply = client.post("/api/batch-upload", files=parts)
            reply.raise_for_status()


def measure(case: str, method: str, files: list[Path], work: Path,
            send: Callable[[Api], None]) -> Result:
    data_dir = work / "data"
    api = Api(data_dir)
    try:
        me = psutil.Process()
        rss_start, my_start = api.ps.memory_info().rss, me.memory_info().rss
        cpu = api.ps.cpu_times()
        sampler = Sampler([api.ps, me])
        with sampler.running():
            started = time.perf_counter()
            send(api)
            seconds = time.perf_counter() - started
        cpu_after = api.ps.cpu_times()
        documents = api.document_count()
    finally:
        api.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    if documents != len(files):
        raise RuntimeError(f"{method}: {documents} documents for {len(files)} files")
    return Result(case, method, len(files), sum(p.stat().st_size for p in files), seconds,
                  rss_start, sampler.peaks[0],
                  (cpu_after.user + cpu_after.system) - (cpu.user + cpu.system),
                  sampler.peaks[1] - my_start, documents)


def table(results: list[Result]) -> Table:
    t = Table("case", "method", "files", "MB", "seconds", "files/s", "MB/s", "API RSS start",
              "API RSS peak", "API CPU s", "client RSS +",
              title="upload over loopback (API alone: embedded Valkey + uvicorn, no workers)")
    for r in results:
        t.add_row(r.case, r.method, f"{r.files:,}", f"{r.nbytes / MIB:,.0f}",
                  f"{r.seconds:.1f}", f"{r.files_per_s:,.0f}", f"{r.mb_per_s:,.1f}",
                  f"{r.api_rss_start / MIB:.0f} MiB", f"{r.api_rss_peak / MIB:.0f} MiB",
                  f"{r.api_cpu:.1f}", f"{r.client_rss_growth / MIB:.0f} MiB")
    return t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000, help="small files")
    parser.add_argument("--big", type=int, default=200, help="big files")
    parser.add_argument("--big-mb", type=int, default=20, help="MB per big file")
    parser.add_argument("--concurrency", type=int, default=8, help="client requests in flight")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="docflow-bench-upload-"))
    console.print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
                  f"files in {work}")
    results: list[Result] = []
    try:
        cases = []
        if args.small:
            started = time.perf_counter()
            small = write_small(work / "small", args.small)
            console.print(f"wrote {len(small):,} small files in "
                          f"{time.perf_counter() - started:.1f}s")
            cases.append((f"{args.small:,} small", work / "small", small, 1000))
        if args.big:
            started = time.perf_counter()
            big = write_big(work / "big", args.big, args.big_mb)
            console.print(f"wrote {len(big):,} files of {args.big_mb} MB in "
                          f"{time.perf_counter() - started:.1f}s")
            cases.append((f"{args.big:,} x {args.big_mb} MB", work / "big", big, 10))
        for case, folder, files, per_request in cases:
            run_dir = work / "run"
            run_dir.mkdir(exist_ok=True)
            results.append(measure(case, "docflow upload", files, run_dir, lambda api, f=folder,
                                   r=run_dir: send_with_client(api, f, r, args.concurrency)))
            console.print(table(results[-1:]))
            results.append(measure(case, "baseline: batch-upload", files,
                                   run_dir, lambda api, fs=files, n=per_request:
                                   send_baseline(api, fs, n)))
            console.print(table(results[-1:]))
            shutil.rmtree(run_dir, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    console.print(table(results))
    console.print(f"load average at the end {os.getloadavg()[0]:.2f} (other work skews the "
                  "figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
