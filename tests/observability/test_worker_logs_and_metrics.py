"""A real `docflow worker` process: each document's end is one log line (JSON when asked), the
per-task chatter of Celery stays out of the log, and what the worker counted shows in the API's
/metrics, another process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from docflow.config import Settings
from docflow.store import Document, DocumentStatus, Store
from docflow.worker.runtime import HOSTNAME
from tests.observability.test_metrics import scrape, value

pytestmark = pytest.mark.e2e


@pytest.fixture
def worker(tmp_path: Path, settings: Settings, store: Store,
           broker: redis.Redis) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
    env.update(DOCFLOW_DATA_DIR=str(settings.data_dir), DOCFLOW_LOG_FORMAT="json",
               DOCFLOW_HEARTBEAT_SECONDS="0.5")
    proc = subprocess.Popen(
        [sys.executable, "-m", "docflow", "worker", "-n", "logs@%h", "--concurrency", "1"],
        env=env, stdout=(tmp_path / "worker.out").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    yield proc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_until_ended(store: Store, ids: list[str], worker: subprocess.Popen[bytes],
                      out: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        with store.db.read() as session:
            statuses = [session.get(Document, i).status for i in ids]
        if all(s in DocumentStatus.TERMINAL for s in statuses):
            return
        assert worker.poll() is None, out.read_text()
        assert time.monotonic() < deadline, statuses
        time.sleep(0.2)


def test_a_worker_logs_one_line_per_document_and_its_counts_reach_metrics(
        tmp_path: Path, api: TestClient, settings: Settings, store: Store,
        worker: subprocess.Popen[bytes]) -> None:
    files = [("files", ("a.txt", b"INVOICE 1. Total $5")),
             ("files", ("b.txt", b"A letter, dear reader.")),
             ("files", ("empty.txt", b""))]
    reply = api.post("/api/batch-upload", files=files)
    assert reply.status_code == 202, reply.text
    batch_id = reply.json()["batch_id"]
    with store.db.read() as session:
        ids = [d.id for d in session.query(Document).filter_by(batch_id=batch_id)]
    assert len(ids) == 3
    _wait_until_ended(store, ids, worker, tmp_path / "worker.out")

    lines = [json.loads(line) for line in
             (settings.logs_path / "celery.log").read_text().splitlines() if line.strip()]
    ends = [line for line in lines if line.get("event") == "document_end"]
    assert sorted(e["document_id"] for e in ends) == sorted(ids)
    assert {e["batch_id"] for e in ends} == {batch_id}
    by_status = {e["status"]: e for e in ends if e["status"] == "failed"}
    assert by_status["failed"]["code"] == "empty"
    done = [e for e in ends if e["status"] == "completed"]
    assert len(done) == 2
    assert all(set(e["stage_ms"]) == {"detect", "extract", "classify", "fields"} for e in done)
    # No line per task received or succeeded: at 500,000 documents that is a million lines.
    chatter = [line["message"] for line in lines
               if " received" in line["message"] or " succeeded in " in line["message"]]
    assert chatter == []

    # The three small files went in one message (worker/groups.py): one task.
    task = {"name": "docflow.process_documents", "queue": "default", "hostname": HOSTNAME}
    deadline = time.monotonic() + 30
    while True:  # the worker's last counts may trail its last commit by a moment
        samples = scrape(api)
        if value(samples, "celery_task_succeeded_total", **task) == 1:
            break
        assert time.monotonic() < deadline, {k: v for k, v in samples.items()
                                             if k[0].startswith("celery_task")}
        time.sleep(0.2)
    assert value(samples, "celery_task_sent_total", **task) == 1  # sent by the API process
    assert value(samples, "celery_task_runtime_count", **task) == 1
    assert value(samples, "docflow_stage_seconds_count", stage="detect") == 2
    assert value(samples, "docflow_documents_ended_total", status="failed", code="empty") == 1
    assert value(samples, "celery_worker_up", hostname=HOSTNAME, worker=f"logs@{HOSTNAME}") == 1
