"""The scale-out mode for real: PostgreSQL, a Redis server of the test's own, an API,
workers with different node names and the housekeeper, as separate processes."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import Row, create_engine, text

from docflow.broker import free_port
from docflow.worker.runtime import HOSTNAME
from tests.conftest import empty_postgres
from tests.e2e.stack import wait_for_batch


class RedisServer:
    """A redis-server process on a free port, with or without append-only persistence.

    The append-only file is fsynced every second, as deploy/README.md recommends: a crash may
    lose the last second of messages, which the reconciler sends again.
    """

    def __init__(self, directory: Path, persistent: bool) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("these tests need redis-server (Debian package redis-server)")
        self.binary, self.dir, self.persistent = binary, directory, persistent
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        directory.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--save", "", "--appendonly", "yes" if self.persistent else "no",
             "--appendfsync", "everysec"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.exceptions.RedisError:
                time.sleep(0.1)
        raise AssertionError("redis-server did not start")

    def restart(self) -> None:
        """Stop it outright (SIGKILL: nothing flushed beyond what the AOF already has)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        time.sleep(1)
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def fresh_postgres(postgres_url: str) -> str:
    empty_postgres(postgres_url)
    return postgres_url


class ScaleOut:
    """The scale-out deployment in small: an API, the housekeeper and Celery workers with node
    names and queues of their own, each a process in a session of its own (as if on separate
    hosts), on one PostgreSQL database, one Redis server and one data dir as the shared volume.
    """

    def __init__(self, tmp_path: Path, database_url: str, broker_url: str,
                 workers: Sequence[tuple[str, str]] = (("first", "default,ocr"),
                                                       ("second", "default,ocr")),
                 extra_env: dict[str, str] | None = None) -> None:
        self.tmp_path, self.database_url = tmp_path, database_url
        self.data_dir = tmp_path / "data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
        self.env.update({
            "DOCFLOW_DATA_DIR": str(self.data_dir), "DOCFLOW_DATABASE_URL": database_url,
            "DOCFLOW_BROKER_URL": broker_url, "DOCFLOW_SEARCH": "postgres",
            "DOCFLOW_RESEND_AFTER_SECONDS": "3", "DOCFLOW_RECONCILE_INTERVAL_SECONDS": "2",
            "DOCFLOW_LEASE_SECONDS": "9", "DOCFLOW_WORKER_STALE_SECONDS": "8",
            "DOCFLOW_HEARTBEAT_SECONDS": "2", "DOCFLOW_VISIBILITY_TIMEOUT_SECONDS": "15",
            **(extra_env or {})})
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        port = free_port()
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        try:
            self._come_up(port, workers)
        except BaseException:
            self._kill_all()  # nothing left behind to serve the next test's database
            raise

    def _come_up(self, port: int, workers: Sequence[tuple[str, str]]) -> None:
        # The API first: it brings the fresh database to the newest schema with the built-in
        # document types, as a deployment's first service (or migration job) does.
        self._start("api", ["uvicorn", "--factory", "docflow.api.app:create_app",
                            "--host", "127.0.0.1", "--port", str(port)])
        deadline = time.monotonic() + 90
        while self._online() is None:
            assert time.monotonic() < deadline, f"the API did not come up\n{self.output()}"
            assert self.processes["api"].poll() is None, f"api exited\n{self.output()}"
            time.sleep(0.3)
        self._start("housekeeper", ["docflow", "housekeeper"])
        for node, queues in workers:
            self._start(node, ["docflow", "worker", "-n", f"{node}@%h", "--queues", queues,
                               "--concurrency", "1"])
        while (self._online() or 0) < len(workers):
            assert time.monotonic() < deadline, f"workers did not come up\n{self.output()}"
            for name, process in self.processes.items():
                assert process.poll() is None, f"{name} exited\n{self.output()}"
            time.sleep(0.3)

    def _start(self, name: str, argv: list[str]) -> None:
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", *argv], env=self.env, stdout=self._out(name).open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True)

    def _out(self, name: str) -> Path:
        return self.tmp_path / f"{name}.out"

    def _online(self) -> int | None:
        """Workers online, as the API says; None while it does not answer."""
        try:
            return int(self.client.get("/api/workers").json()["worker_count"])
        except httpx.HTTPError:
            return None

    def node(self, name: str) -> str:
        """A worker's full node name (NAME@host)."""
        return f"{name}@{HOSTNAME}"

    def wait_batch(self, batch_id: str, timeout: float = 300) -> dict:
        """The batch's status once every document has ended; `timeout` bounds a stall."""
        return wait_for_batch(lambda: self.client.get(f"/api/batch-status/{batch_id}").json(),
                              timeout, self.output)

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker's main process and its pool, all at once (its host died)."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def log(self, filename: str) -> str:
        """A log file of the data dir: celery.log (every worker), housekeeper.log, api.log."""
        return (self.data_dir / "logs" / filename).read_text(errors="replace")

    def query(self, sql: str, **params: object) -> list[Row]:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), params).all())
        finally:
            engine.dispose()

    def output(self) -> str:
        return "\n".join(f"--- {name}\n{self._out(name).read_text(errors='replace')[-3000:]}"
                         for name in self.processes)

    def _kill_all(self) -> None:
        self.client.close()
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        """SIGTERM, as a process manager stops a host's services; each must exit cleanly."""
        self.client.close()
        running = {n: p for n, p in self.processes.items() if p.poll() is None}
        for process in running.values():
            os.killpg(process.pid, signal.SIGTERM)
        codes = {}
        for name, process in running.items():
            try:
                codes[name] = process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                codes[name] = process.wait()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # an orphaned pool process
        # uvicorn ends a graceful shutdown by raising the signal it handled again.
        unclean = {n: c for n, c in codes.items()
                   if c != 0 and not (n == "api" and c == -signal.SIGTERM)}
        assert unclean == {}, f"{unclean}\n{self.output()}"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", persistent=True)
    yield server
    server.stop()
