"""A real `docflow worker` reports itself in the database: its name, queues and how many tasks
it may run at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from docflow.config import Settings
from docflow.store import Store, Worker
from docflow.worker.runtime import HOSTNAME

pytestmark = pytest.mark.e2e


def test_an_autoscaling_worker_reports_its_maximum_as_its_concurrency(
        tmp_path: Path, settings: Settings, store: Store, broker: redis.Redis) -> None:
    # Not the CPU count (Celery's default pool size, which --autoscale leaves in place) and not
    # the MIN processes it starts with: the most it will run at once.
    most = (os.cpu_count() or 1) + 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
    env.update(DOCFLOW_DATA_DIR=str(settings.data_dir), DOCFLOW_HEARTBEAT_SECONDS="0.5")
    worker = subprocess.Popen(
        [sys.executable, "-m", "docflow", "worker", "-n", "auto@%h", "--queues", "ocr",
         "--autoscale", f"{most},1"], env=env, stdout=(tmp_path / "worker.out").open("wb"),
        stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        row = None
        while row is None:
            assert worker.poll() is None, (tmp_path / "worker.out").read_text()
            assert time.monotonic() < deadline, "the worker never reported"
            time.sleep(0.3)
            with store.db.read() as session:
                row = session.get(Worker, f"auto@{HOSTNAME}")
        assert (row.concurrency, row.queues, row.status) == (most, "ocr", "online")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
