"""Start the real stack (`docflow serve`: embedded Valkey, Celery workers, housekeeper, API)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from docflow.broker import free_port


def wait_for_batch(read: Callable[[], dict], stall: float, output: Callable[[], str]) -> dict:
    """Poll a batch's status until every document has ended; fail only when no document has
    ended (and none changed state) for `stall` seconds."""
    seen, deadline = None, time.monotonic() + stall
    while True:
        status = read()
        if status["completed"] + status["failed"] >= status["total"]:
            return status
        now = (status["completed"], status["failed"], status.get("processing"))
        if now != seen:
            seen, deadline = now, time.monotonic() + stall
        assert time.monotonic() < deadline, (
            f"batch stalled {stall}s: {status}\n{output()}")
        time.sleep(0.5)


class Stack:
    def __init__(self, data_dir: Path, concurrency: int = 2, env: dict[str, str] | None = None,
                 ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (data_dir.parent / "serve.out").open("wb")
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith("DOCFLOW_")}
        # Embedding every page for semantic search is most of a document's CPU; a test that
        # searches by meaning turns it on (env={"DOCFLOW_SEMANTIC_SEARCH": "true"}).
        full_env["DOCFLOW_SEMANTIC_SEARCH"] = "false"
        full_env.update(env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "docflow", "serve", "--port", str(self.port), "--data-dir",
             str(data_dir), "--concurrency", str(concurrency)],
            stdout=self.log, stderr=subprocess.STDOUT, env=full_env)
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                if self.client.get("/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"stack not healthy in {timeout}s:\n{self.output()}")

    def wait_batch(self, batch_id: str, timeout: float = 240) -> dict:
        """The batch's status once every document has ended. `timeout` bounds the time
        without progress, not the whole wait: a loaded machine is slow, a stuck stack stalls."""
        return wait_for_batch(lambda: self.client.get(f"/api/batch-status/{batch_id}").json(),
                              timeout, self.output)

    def descendants(self) -> list[psutil.Process]:
        """Every process the stack started (children run in sessions of their own)."""
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def worker_pool_processes(self) -> list[psutil.Process]:
        procs = []
        for p in self.descendants():
            try:
                parent = p.parent()
                if parent is not None and "worker" in parent.cmdline():
                    procs.append(p)
            except psutil.NoSuchProcess:
                pass
        return procs

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return (self.data_dir.parent / "serve.out").read_text(errors="replace")[-6000:]

    def stop(self, timeout: float = 60) -> int:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode
