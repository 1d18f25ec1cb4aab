"""bench/scaleout.py leaves no database behind, even when a run fails part-way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from docflow.broker import free_port
from tests.conftest import POSTGRES_ADMIN_URL

REPO = Path(__file__).resolve().parents[2]


def _exists(name: str) -> bool:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                             (name,)).fetchone() is not None


@pytest.mark.postgres
def test_a_run_that_fails_after_creating_its_database_drops_it(tmp_path: Path) -> None:
    name = f"docflow_bench_test_{os.getpid()}"
    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"  # fails the first run's reset
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "scaleout.py"), "--count", "1",
         "--source", "generated", "--processes", "1", "--redis-url", nothing_listens,
         "--database-url", POSTGRES_ADMIN_URL.replace("postgresql:", "postgresql+psycopg:"),
         "--bench-database", name],
        capture_output=True, text=True, timeout=120, env=env)
    try:
        assert done.returncode != 0, done.stdout + done.stderr
        assert "ConnectionError" in done.stderr or "Connection refused" in done.stderr, \
            done.stderr[-2000:]
        assert not _exists(name), "the failed run left its bench database behind"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
