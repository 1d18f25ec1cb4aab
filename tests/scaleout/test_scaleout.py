"""Scale-out on PostgreSQL and Redis keeps every document through faults.

Each test runs an API, two workers with different node names and the housekeeper against a
fresh PostgreSQL database and a Redis server of its own, and ends with every document in one
terminal state, with one result and one search index entry each.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.scaleout.conftest import RedisServer, ScaleOut
from tests.scans import make_scanned_pdf, text_image

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def _texts(n: int, tag: str) -> list[tuple[str, tuple[str, bytes]]]:
    return [("files", (f"{tag}-{i:04d}.txt",
                       f"Dear team, note {i} about {tag}{i:04d}x. Sincerely, Ann".encode()))
            for i in range(n)]


def _upload(scale: ScaleOut, files: list) -> str:
    reply = scale.stack.client.post("/api/batch-upload", files=files)
    assert reply.status_code == 202, reply.text
    return reply.json()["batch_id"]


def _wait_some_done(scale: ScaleOut, batch_id: str, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while scale.stack.client.get(f"/api/batch-status/{batch_id}").json()["completed"] < at_least:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def _assert_each_once(scale: ScaleOut, batch_id: str, total: int) -> dict:
    status = scale.stack.wait_batch(batch_id, timeout=300)
    failed = scale.stack.client.get("/api/documents", params={"batch_id": batch_id,
                                                               "status": "failed"}).json()
    assert (status["total"], status["completed"], status["failed"]) == (total, total, 0), (
        status, [d["error"] for d in failed["documents"]])
    deadline = time.monotonic() + 30
    while scale.index_entries() != (total, total):
        assert time.monotonic() < deadline, f"index entries {scale.index_entries()}"
        time.sleep(0.5)
    return status


def _workers_used(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT worker, count(*) FROM documents GROUP BY worker")).all()
    engine.dispose()
    return {r[0]: r[1] for r in rows}


def _state_of(scale: ScaleOut, node: str) -> str:
    workers = scale.stack.client.get("/api/workers").json()["workers"]
    return {w["name"].split("@")[0]: w["state"] for w in workers}[node]


def test_two_workers_share_a_batch_and_losing_one_loses_nothing(
        tmp_path: Path, fresh_postgres: str, redis_server: RedisServer) -> None:
    scale = ScaleOut(tmp_path, fresh_postgres, redis_server.url)
    try:
        batch_id = _upload(scale, _texts(300, "share"))
        _wait_some_done(scale, batch_id, 60)
        scale.kill_second_worker()
        _assert_each_once(scale, batch_id, 300)
        used = _workers_used(fresh_postgres)
        assert len(used) == 2 and all(n > 0 for n in used.values()), used
        # Lost means silent for DOCFLOW_WORKER_STALE_SECONDS (8 s): the batch may end sooner.
        deadline = time.monotonic() + 30
        while _state_of(scale, "second") != "lost":
            assert time.monotonic() < deadline, _state_of(scale, "second")
            time.sleep(0.5)
    finally:
        scale.stop()


@pytest.mark.parametrize("persistent", [True, False], ids=["aof", "no-persistence"])
def test_a_redis_restart_mid_batch_loses_nothing(tmp_path: Path, fresh_postgres: str,
                                                  persistent: bool) -> None:
    server = RedisServer(tmp_path / "redis", persistent=persistent)
    scale = ScaleOut(tmp_path, fresh_postgres, server.url)
    try:
        batch_id = _upload(scale, _texts(200, "restart"))
        _wait_some_done(scale, batch_id, 20)
        server.restart()
        _assert_each_once(scale, batch_id, 200)
    finally:
        scale.stop()
        server.stop()


def test_dropped_database_connections_are_retried(tmp_path: Path, fresh_postgres: str,
                                                  redis_server: RedisServer) -> None:
    scale = ScaleOut(tmp_path, fresh_postgres, redis_server.url)
    try:
        batch_id = _upload(scale, _texts(200, "dropdb"))
        _wait_some_done(scale, batch_id, 20)
        engine = create_engine(fresh_postgres)
        for _ in range(3):
            with engine.connect() as conn:
                killed = conn.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
            assert killed and killed > 0
            time.sleep(1)
        engine.dispose()
        _assert_each_once(scale, batch_id, 200)
    finally:
        scale.stop()


def test_a_message_redelivered_after_the_visibility_timeout_is_harmless(
        tmp_path: Path, fresh_postgres: str, redis_server: RedisServer) -> None:
    # Each document takes longer than the visibility timeout, so Redis hands its message to
    # the other worker while the first is still at work.
    scale = ScaleOut(tmp_path, fresh_postgres, redis_server.url,
                     extra_env={"DOCFLOW_VISIBILITY_TIMEOUT_SECONDS": "1"})
    try:
        # Eight scanned pages to OCR take seconds on any machine (a text layer, however long,
        # may be read within a second): several sweeps for unacknowledged messages pass.
        files = []
        for i in range(6):
            page = text_image([f"Scanned report {i}, line {n}, with words to read." for n in
                               range(30)])
            files.append(("files", (f"scan{i}.pdf", make_scanned_pdf([page] * 8))))
        batch_id = _upload(scale, files)
        _assert_each_once(scale, batch_id, 6)
        docs = scale.stack.client.get("/api/documents", params={"batch_id": batch_id}).json()
        for d in docs["documents"]:
            detail = scale.stack.client.get(f"/api/documents/{d['id']}").json()
            assert detail["attempts"] == 1, detail
        logs = (tmp_path / "data" / "logs" / "celery.log").read_text()
        assert "held by a live worker" in logs, "no message was redelivered"
    finally:
        scale.stop()
