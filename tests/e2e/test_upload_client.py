"""End to end: `docflow upload` against the real stack. Killed halfway and rerun, or talking
through a proxy that drops connections, every file still becomes exactly one document."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from tests.client.conftest import make_tree
from tests.client.flaky_proxy import FlakyProxy
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e

def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
    env["COLUMNS"] = "200"
    return env


def _upload_cmd(tmp_path: Path, url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "docflow", "upload", str(tmp_path / "corpus"), "--url", url,
            "--checkpoint", str(tmp_path / "upload.sqlite"),
            "--batch-ids-out", str(tmp_path / "batch_ids.json"), *extra]


def _document_count(stack: Stack) -> int:
    return int(stack.client.get("/api/documents", params={"limit": 1,
                                                                   "count": True}).json()["total"])


def _assert_each_file_once(stack: Stack, files: list[Path]) -> None:
    names: Counter[str] = Counter()
    cursor = None
    while True:  # page by cursor, as clients should
        page = stack.client.get("/api/documents", params={"limit": 1000, "cursor": cursor}
                                if cursor else {"limit": 1000}).json()
        names.update(d["filename"] for d in page["documents"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sum(names.values()) == len(files), f"{sum(names.values())} documents"
    assert names == Counter(p.name for p in files)


def _batch_ids(tmp_path: Path) -> list[str]:
    return list(json.loads((tmp_path / "batch_ids.json").read_text())["batch_ids"])


def test_an_upload_killed_halfway_resumes_and_each_file_arrives_once(tmp_path: Path) -> None:
    files = make_tree(tmp_path / "corpus", 2000, per_dir=150, size=300)
    stack = Stack(tmp_path / "data", concurrency=2)
    log = (tmp_path / "first-run.out").open("wb")
    try:
        stack.wait_healthy()
        cmd = _upload_cmd(tmp_path, stack.url, "--batch-size", "500", "--concurrency", "4",
                          "--files-per-request", "20")
        first = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env())
        deadline = time.monotonic() + 120
        # Killed inside the second batch, once the client has planned files into the third:
        # a rerun must fill the second batch before going on, not leave it short.
        while _document_count(stack) < 650:
            assert first.poll() is None, (tmp_path / "first-run.out").read_text()
            assert time.monotonic() < deadline, "the upload did not get going"
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)  # no chance to clean up or save anything more
        first.wait()
        killed_at = _document_count(stack)
        assert 650 <= killed_at < 1000, f"{killed_at} documents when killed"
        with closing(sqlite3.connect(tmp_path / "upload.sqlite")) as checkpoint:
            planned = checkpoint.execute("SELECT count(*) FROM batches").fetchone()[0]
        assert planned >= 3, f"{planned} batches planned when killed"

        rerun = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        _assert_each_file_once(stack, files)
        summary = json.loads((tmp_path / "batch_ids.json").read_text())["summary"]
        assert summary["total_files"] == 2000 and summary["failed"] == 0
        # Only the missing files became documents; requests the server finished after the
        # kill (their answers lost) came back as the documents they already were.
        assert summary["uploaded"] + summary["already_uploaded"] == 2000
        assert summary["uploaded"] <= 2000 - killed_at
        assert summary["already_uploaded"] >= killed_at - 4 * 20
        assert "skipped, already uploaded" in rerun.stdout

        batch_ids = _batch_ids(tmp_path)
        counts = [stack.client.get(f"/api/batches/{b}").json()["document_count"]
                  for b in batch_ids]
        assert counts == [500, 500, 500, 500]  # every batch filled, none short, none extra
        totals = [stack.client.get(f"/api/batch-status/{b}").json()["total"]
                  for b in batch_ids]
        assert totals == counts
    finally:
        log.close()
        assert stack.stop() == 0, stack.output()


def test_through_a_proxy_dropping_5_percent_each_file_arrives_once_and_monitor_hits_100(
        tmp_path: Path) -> None:
    files = make_tree(tmp_path / "corpus", 600, per_dir=100, size=300)
    stack = Stack(tmp_path / "data", concurrency=2)
    proxy: FlakyProxy | None = None
    try:
        stack.wait_healthy()
        proxy = FlakyProxy(stack.port, drop_rate=0.05, seed=3).start()
        cmd = _upload_cmd(tmp_path, proxy.url, "--batch-size", "200", "--files-per-request",
                          "4", "--monitor")
        done = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=400)
        assert done.returncode == 0, done.stdout + done.stderr
        assert proxy.dropped_before > 0 and proxy.dropped_after > 0, vars(proxy)
        _assert_each_file_once(stack, files)
        counts = [stack.client.get(f"/api/batches/{b}").json()["document_count"]
                  for b in _batch_ids(tmp_path)]
        assert counts == [200, 200, 200]
        out = done.stdout
        assert "600/600 documents (100.0%)" in out, out
        assert "all 3 batches done" in out and "retried requests" in out
    finally:
        if proxy is not None:
            proxy.stop()
        assert stack.stop() == 0, stack.output()
