"""bench/api_p95.py at a small size: the generated documents answer every page's call, and the
table lists each call with its verdict; on PostgreSQL it leaves no scratch database behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.conftest import POSTGRES_ADMIN_URL

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
from generate import TYPES, document_id, rows, source_path  # noqa: E402


def _bench(tmp_path: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "api_p95.py"), "--count", "2000",
         "--baseline-count", "0", "--calls", "2", *args],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_the_generated_mix_has_what_each_filter_needs() -> None:
    from datetime import UTC, datetime

    now = datetime(2024, 1, 1, tzinfo=UTC)
    docs = [d for _, chunk in rows(2000, now, now) for d in chunk]
    assert [d["id"] for d in docs[:2]] == [document_id(0), document_id(1)]
    statuses = {s: sum(d["status"] == s for d in docs) for s in
                ("completed", "failed", "queued", "processing")}
    assert all(statuses.values()) and sum(statuses.values()) == 2000
    completed = [d for d in docs if d["status"] == "completed"]
    assert {d["doc_type"] for d in completed} == set(TYPES)
    assert any(d["needs_review"] for d in completed)
    assert {d["warning_codes"] for d in completed} >= {None, "no_text", "partial", "truncated"}
    assert docs[7]["source_path"] == source_path(7) == "2022/q4/dept0/f7.pdf"


def test_the_bench_times_every_call_on_sqlite_against_a_smaller_baseline(
        tmp_path: Path) -> None:
    out = _bench(tmp_path, "--no-postgres", "--baseline-count", "2000", "--count", "3000")
    for call in ("overview", "overview: events snapshot", "a batch: failures by code",
                 "documents warning=no_text, first page", "review queue (page + count)",
                 "search: a rare word", "a document's original", "metrics"):
        assert f"\n{call} " in out, out
    assert re.search(r"\d+ of 46 within the goal", out), out  # not a verdict on this machine


@pytest.mark.postgres
def test_the_bench_on_postgres_drops_its_scratch_database(tmp_path: Path) -> None:
    name = f"docflow_bench_api_p95_test_{os.getpid()}"  # not a bench someone runs meanwhile
    out = _bench(tmp_path, "--no-sqlite", "--bench-database", name, "--admin-url",
                 POSTGRES_ADMIN_URL.replace("postgresql:", "postgresql+psycopg:"))
    assert "PostgreSQL: GET p50 / p95" in out
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        assert admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                             (name,)).fetchone() is None
