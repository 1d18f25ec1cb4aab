"""Faults the stack must survive: a broker killed outright, and an external broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from docflow.demo import make_pdf, write_demo_corpus
from tests.e2e.stack import Stack
from tests.scans import make_scanned_pdf, text_image

pytestmark = pytest.mark.e2e

FAST_RECONCILER = {"DOCFLOW_RESEND_AFTER_SECONDS": "3", "DOCFLOW_RECONCILE_INTERVAL_SECONDS": "2",
                   "DOCFLOW_LEASE_SECONDS": "15"}


def test_killing_the_embedded_broker_mid_batch_loses_no_document(tmp_path: Path) -> None:
    stack = Stack(tmp_path / "data", concurrency=2, env=FAST_RECONCILER)
    try:
        stack.wait_healthy()
        files = []
        for i in range(30):
            pages = [f"Broker test {i} page {p}. " * 12 for p in range(600)]
            pages[0] = f"brokertest{i:02d}word " + pages[0]
            files.append(("files", (f"doc{i:02d}.pdf", make_pdf(pages))))
        batch = stack.client.post("/api/batch-upload", files=files).json()
        # Kill it once the workers are seen at work, with most of the batch still to do.
        _wait_until(lambda: _ended_or_running(stack, batch["batch_id"]) > 0)
        pid = int((tmp_path / "data" / "broker" / "valkey.pid").read_text())
        os.kill(pid, signal.SIGKILL)

        status = stack.wait_batch(batch["batch_id"], timeout=240)
        assert (status["completed"], status["failed"]) == (30, 0), status
        new_pid = int((tmp_path / "data" / "broker" / "valkey.pid").read_text())
        assert new_pid != pid
        assert "starting it again" in (tmp_path / "data" / "logs" / "serve.log").read_text()
    finally:
        assert stack.stop() == 0, stack.output()


def _ended_or_running(stack: Stack, batch_id: str) -> int:
    status = stack.client.get(f"/api/batch-status/{batch_id}").json()
    return int(status["processing"] + status["completed"] + status["failed"])


def _wait_until(ready: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, "the workers never started on the batch"
        time.sleep(0.1)


def test_with_a_broker_url_the_stack_uses_it_and_embeds_none(tmp_path: Path) -> None:
    url = "redis://127.0.0.1:6379/11"
    try:
        redis.Redis.from_url(url).flushdb()
    except redis.exceptions.ConnectionError:
        pytest.fail("this test needs the Redis server on 127.0.0.1:6379 "
                    "(scripts/ensure-services.sh starts it)")
    stack = Stack(tmp_path / "data", concurrency=1, env={"DOCFLOW_BROKER_URL": url})
    try:
        stack.wait_healthy()
        assert not any("valkey" in " ".join(p.cmdline()) for p in stack.descendants())
        files = write_demo_corpus(tmp_path / "corpus", count=4, broken=1)
        batch = stack.client.post("/api/batch-upload", files=[
            ("files", (f.path.name, f.path.read_bytes())) for f in files]).json()
        status = stack.wait_batch(batch["batch_id"])
        assert (status["completed"], status["failed"]) == (3, 1)
    finally:
        assert stack.stop() == 0, stack.output()


def test_the_cli_ingests_a_folder_and_reports_on_it(tmp_path: Path) -> None:
    files = write_demo_corpus(tmp_path / "corpus", count=8, broken=1, seed=3)
    data = tmp_path / "data"
    stack = Stack(data, concurrency=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
    env["COLUMNS"] = "200"

    def docflow(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "docflow", *args, "--data-dir", str(data)],
                              capture_output=True, text=True, env=env, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    try:
        stack.wait_healthy()
        out = docflow("ingest", str(tmp_path / "corpus"), "--wait")
        batch_id = out.split("batch ", 1)[1].split(":", 1)[0].strip()
        assert "8 documents" in out and "7 completed, 1 failed" in out
        status = docflow("status", batch_id)
        assert "100.0% done" in status and "failed" in status
        word = next(f.unique_word for f in files if not f.broken)
        deadline = time.monotonic() + 120  # searchable within seconds; generous for a busy CI
        while (word not in (found := docflow("search", word, "--mode", "keyword"))
               and time.monotonic() < deadline):
            time.sleep(0.5)
        assert "1 documents match" in found
        # The default mode (hybrid) also lists documents near in meaning, the word's one first.
        assert "(hybrid)" in docflow("search", word)
    finally:
        assert stack.stop() == 0, stack.output()


def test_a_document_over_the_time_limit_fails_alone_as_timeout(tmp_path: Path) -> None:
    # OCR of 40 scanned pages takes many seconds on any machine (a text layer, however long,
    # can be read within the limit on a fast one); one task does them all, not parts.
    # No embeddings: loading the model in a fresh pool process can itself take a second on a
    # busy machine, and the short letter must stay within the one-second limit.
    env = {"DOCFLOW_TASK_SOFT_TIME_LIMIT": "1", "DOCFLOW_TASK_TIME_LIMIT": "30",
           "DOCFLOW_OCR_PAGES_PER_TASK": "0", "DOCFLOW_SEMANTIC_SEARCH": "false"}
    stack = Stack(tmp_path / "data", concurrency=2, env=env)
    try:
        stack.wait_healthy()
        page = text_image([f"Line {n} of a long scanned report, full of words." for n in range(30)])
        slow = make_scanned_pdf([page] * 40)
        files = [("files", ("long.pdf", slow)),
                 ("files", ("short.txt", b"Dear Ann, thank you for your letter. Sincerely, Bo"))]
        batch = stack.client.post("/api/batch-upload", files=files).json()
        status = stack.wait_batch(batch["batch_id"], timeout=120)
        assert (status["completed"], status["failed"]) == (1, 1), status
        ids = {d["filename"]: d["document_id"] for d in batch["documents"]}
        long_doc = stack.client.get(f"/api/documents/{ids['long.pdf']}").json()
        assert long_doc["error"]["code"] == "timeout" and long_doc["attempts"] == 1
    finally:
        assert stack.stop() == 0, stack.output()


def test_pool_processes_recycled_while_heartbeats_write_never_lock_the_database(
        tmp_path: Path) -> None:
    # Celery forks a replacement every 5 tasks while the heartbeat thread writes constantly:
    # a fork in the middle of a SQLite transaction used to leave the new process locked out.
    env = {"DOCFLOW_WORKER_MAX_TASKS_PER_CHILD": "5", "DOCFLOW_HEARTBEAT_SECONDS": "0.02"}
    stack = Stack(tmp_path / "data", concurrency=2, env=env)
    try:
        stack.wait_healthy()
        files = [("files", (f"n{i}.txt", f"Dear Bo, note {i}. Sincerely, Ann".encode()))
                 for i in range(150)]
        batch = stack.client.post("/api/batch-upload", files=files).json()
        status = stack.wait_batch(batch["batch_id"], timeout=120)
        assert (status["completed"], status["failed"]) == (150, 0), status
    finally:
        assert stack.stop() == 0, stack.output()
