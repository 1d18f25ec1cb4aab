"""The scale-out mode for real: PostgreSQL, a Redis server of the test's own, an API,
workers with different node names and the housekeeper, as separate processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from docflow.broker import free_port
from tests.conftest import empty_postgres
from tests.e2e.stack import Stack


class RedisServer:
    """A redis-server process on a free port, with or without append-only persistence."""

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
             "--appendfsync", "always"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    """API + first worker + housekeeper via `docflow serve`, and a second worker on its own."""

    def __init__(self, tmp_path: Path, database_url: str, broker_url: str,
                 extra_env: dict[str, str] | None = None) -> None:
        self.env = {"DOCFLOW_DATABASE_URL": database_url, "DOCFLOW_BROKER_URL": broker_url,
                    "DOCFLOW_SEARCH": "postgres", "DOCFLOW_RESEND_AFTER_SECONDS": "3",
                    "DOCFLOW_RECONCILE_INTERVAL_SECONDS": "2", "DOCFLOW_LEASE_SECONDS": "9",
                    "DOCFLOW_WORKER_STALE_SECONDS": "8", "DOCFLOW_HEARTBEAT_SECONDS": "2",
                    "DOCFLOW_VISIBILITY_TIMEOUT_SECONDS": "15", **(extra_env or {})}
        self.database_url = database_url
        self.stack = Stack(tmp_path / "data", concurrency=1, env=self.env)
        self.stack.wait_healthy()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
        env.update(self.env, DOCFLOW_DATA_DIR=str(tmp_path / "data"))
        self.second = subprocess.Popen(
            [sys.executable, "-m", "docflow", "worker", "-n", "second@%h", "--concurrency", "1"],
            env=env, stdout=(tmp_path / "second.out").open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while self.stack.client.get("/api/workers").json()["worker_count"] < 2:
            assert time.monotonic() < deadline, "the second worker did not come up"
            time.sleep(0.3)

    def kill_second_worker(self) -> None:
        """SIGKILL the second worker's main process and its pool, all at once."""
        os.killpg(self.second.pid, signal.SIGKILL)
        self.second.wait()

    def index_entries(self) -> tuple[int, int]:
        engine = create_engine(self.database_url)
        with engine.connect() as conn:
            total, distinct = conn.execute(text(
                "SELECT count(*), count(DISTINCT id) FROM search_index")).one()
        engine.dispose()
        return int(total), int(distinct)

    def stop(self) -> None:
        if self.second.poll() is None:
            os.killpg(self.second.pid, signal.SIGTERM)
            try:
                self.second.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.second.pid, signal.SIGKILL)
        assert self.stack.stop() == 0, self.stack.output()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", persistent=True)
    yield server
    server.stop()
