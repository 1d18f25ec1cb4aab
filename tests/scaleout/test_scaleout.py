"""Scale-out on PostgreSQL and Redis keeps every document through faults.

Each test runs an API, the housekeeper and two workers with different node names against a
fresh PostgreSQL database and a Redis server of its own, and ends with every document completed
once: claimed once (twice where the test interrupted it), one result, one search index entry.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Container, Mapping
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Row

from docflow.broker import free_port
from tests.scaleout.conftest import RedisServer, ScaleOut
from tests.scans import make_scanned_pdf, text_image

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

File = tuple[str, tuple[str, bytes]]


def _texts(n: int, tag: str) -> list[File]:
    return [("files", (f"{tag}-{i:04d}.txt",
                       f"Dear team, note {i} about {tag}{i:04d}x. Sincerely, Ann".encode()))
            for i in range(n)]


def _scan(word: str, pages: int) -> File:
    """A PDF with a text page naming `word`, then scanned pages: seconds of OCR on any machine."""
    scan = text_image([f"Scanned page of report {word}, line {n}, with words to read." for n in
                       range(30)])
    return ("files", (f"{word}.pdf", make_scanned_pdf([f"Quarterly report {word}. " * 10,
                                                        *[scan] * pages])))


def _upload(scale: ScaleOut, files: list[File]) -> str:
    reply = scale.client.post("/api/batch-upload", files=files)
    assert reply.status_code == 202, reply.text
    return reply.json()["batch_id"]


def _documents(scale: ScaleOut, batch_id: str) -> dict[str, Row]:
    rows = scale.query("SELECT id, filename, status, attempts, worker, worker_pid, started_at, "
                       "finished_at, error_code FROM documents WHERE batch_id = :b", b=batch_id)
    return {r.id: r for r in rows}


def _wait_completed(scale: ScaleOut, batch_id: str, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while scale.client.get(f"/api/batch-status/{batch_id}").json()["completed"] < at_least:
        assert time.monotonic() < deadline, scale.output()
        time.sleep(0.2)


def _assert_each_processed_once(scale: ScaleOut, batch_id: str, total: int,
                                claims: Mapping[str, Container[int]] | None = None,
                                ) -> dict[str, Row]:
    """Every document completed, claimed once (or as often as `claims` allows, for documents a
    fault interrupted), and in the search index once: the index holds exactly the completed
    documents."""
    status = scale.wait_batch(batch_id)
    docs = _documents(scale, batch_id)
    failed = {r.filename: (r.status, r.error_code) for r in docs.values()
              if r.status != "completed"}
    assert (status["total"], status["completed"], status["failed"], failed) == (
        total, total, 0, {}), status
    listed: set[str] = set()
    params: dict[str, object] = {"batch_id": batch_id, "status": "completed", "limit": 100}
    while True:  # what the API says is what the database holds, page by cursor
        page = scale.client.get("/api/documents", params=params).json()
        assert page["documents"], page
        listed |= {d["id"] for d in page["documents"]}
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert listed == set(docs)
    allowed = {i: (claims or {}).get(i, {1}) for i in docs}
    unexpected = [r for i, r in docs.items() if r.attempts not in allowed[i]]
    assert unexpected == [], {i: n for i, n in allowed.items() if n != {1}}
    _assert_index_is_the_completed_documents(scale)
    return docs


def _assert_index_is_the_completed_documents(scale: ScaleOut) -> None:
    deadline = time.monotonic() + 30
    while True:
        completed = {r.id for r in scale.query(
            "SELECT id FROM documents WHERE status = 'completed'")}
        indexed = [r.id for r in scale.query("SELECT id FROM search_index")]
        missing, extra = completed - set(indexed), set(indexed) - completed
        if not missing and not extra and len(indexed) == len(completed):
            return
        assert time.monotonic() < deadline, (
            f"{len(missing)} completed documents not indexed; {len(extra)} index entries that "
            f"are not completed documents ({len(indexed)} entries, {len(completed)} completed)")
        time.sleep(0.5)


def _search(scale: ScaleOut, word: str) -> list[str]:
    found = scale.client.get("/api/search", params={"q": word, "mode": "keyword"}).json()
    return [h["id"] for h in found["hits"]]


def _state_of(scale: ScaleOut, node: str) -> str:
    workers = scale.client.get("/api/workers").json()["workers"]
    return {w["name"]: w["state"] for w in workers}[scale.node(node)]


def _wait_held_in_ocr(scale: ScaleOut, batch_id: str, node: str) -> str:
    """A scan the worker has been reading for a while (not one it is passing to the ocr queue):
    the same document, same attempt, held by it at two looks half a second apart."""
    deadline = time.monotonic() + 120
    seen: tuple[str, int] | None = None
    while time.monotonic() < deadline:
        processing = scale.client.get("/api/documents", params={
            "batch_id": batch_id, "status": "processing"}).json()["documents"]
        held = None
        for doc in processing:
            detail = scale.client.get(f"/api/documents/{doc['id']}").json()
            if detail["worker"] == scale.node(node) and detail["filename"].endswith(".pdf"):
                held = (detail["id"], detail["attempts"])
        if held is not None and held == seen:
            return held[0]
        seen = held
        time.sleep(0.5)
    raise AssertionError(f"{node} never held a scan\n{scale.output()}")


def test_two_workers_share_a_batch_and_losing_one_mid_document_loses_nothing(
        tmp_path: Path, fresh_postgres: str, redis_server: RedisServer) -> None:
    scale = ScaleOut(tmp_path, fresh_postgres, redis_server.url)
    try:
        texts, words = _texts(120, "share"), [f"killscan{i}word" for i in range(6)]
        files = []
        for i, word in enumerate(words):  # a scan after every 20 text files
            files += [*texts[20 * i:20 * (i + 1)], _scan(word, pages=5)]
        batch_id = _upload(scale, files)
        second = scale.node("second")
        deadline = time.monotonic() + 60
        while not scale.query("SELECT 1 FROM documents WHERE worker = :w AND status = "
                              "'completed'", w=second):
            assert time.monotonic() < deadline, "the second worker took no work"
            time.sleep(0.2)
        victim = _wait_held_in_ocr(scale, batch_id, "second")
        scale.kill_worker("second")
        # What the dead worker held, as the database says: the scan at least.
        interrupted = {r.id for r in scale.query(
            "SELECT id FROM documents WHERE status = 'processing' AND worker = :w "
            "AND lease_until IS NOT NULL", w=second)}
        assert victim in interrupted

        docs = _assert_each_processed_once(scale, batch_id, 126,
                                           claims=dict.fromkeys(interrupted, {2}))
        assert {docs[i].worker for i in interrupted} == {scale.node("first")}
        finished_by = {w: sum(r.worker == w for r in docs.values())
                       for w in (scale.node("first"), second)}
        assert all(n > 0 for n in finished_by.values()), finished_by
        # docflow's reconciler took the work back once the worker fell silent (8 s), not Redis
        # handing its unacknowledged message on after the visibility timeout (15 s).
        released = re.findall(r"reconciler: (\d+) expired leases", scale.log("housekeeper.log"))
        assert sum(map(int, released)) >= len(interrupted), released
        word = words[[f"{w}.pdf" for w in words].index(docs[victim].filename)]
        assert _search(scale, word) == [victim]
        # Lost means silent for DOCFLOW_WORKER_STALE_SECONDS (8 s): the batch may end sooner.
        deadline = time.monotonic() + 30
        while _state_of(scale, "second") != "lost":
            assert time.monotonic() < deadline, _state_of(scale, "second")
            time.sleep(0.5)
    finally:
        scale.stop()


def test_scans_on_the_ocr_queue_do_not_hold_up_small_documents(
        tmp_path: Path, fresh_postgres: str, redis_server: RedisServer) -> None:
    scale = ScaleOut(tmp_path, fresh_postgres, redis_server.url,
                     workers=(("ocr", "ocr"), ("light", "default")))
    try:
        queues = {w["name"]: w["queues"] for w in
                  scale.client.get("/api/workers").json()["workers"]}
        assert queues == {scale.node("ocr"): ["ocr"], scale.node("light"): ["default"]}
        _flower_sees_the_workers(scale, redis_server.url)
        # Some twenty seconds of OCR for the one ocr worker, uploaded first.
        scans = _upload(scale, [_scan(f"queuescan{i}word", pages=6) for i in range(4)])
        texts = _upload(scale, _texts(100, "light"))
        done = scale.wait_batch(texts, timeout=60)
        scans_then = scale.client.get(f"/api/batch-status/{scans}").json()
        assert done["completed"] == 100 and scans_then["completed"] < 4, (done, scans_then)

        scan_docs = _assert_each_processed_once(scale, scans, 4)
        text_docs = _assert_each_processed_once(scale, texts, 100)
        # The light worker passed each scan on without reading it (it never OCRs); the ocr
        # worker read them all, and never took a text file.
        assert {r.worker for r in scan_docs.values()} == {scale.node("ocr")}
        assert {r.worker for r in text_docs.values()} == {scale.node("light")}
    finally:
        scale.stop()


def _flower_sees_the_workers(scale: ScaleOut, broker_url: str) -> None:
    """Flower, started as deploy/README.md says, lists each worker with its queues."""
    port = free_port()
    flower = subprocess.Popen(
        [sys.executable, "-m", "celery", "--app", "docflow.worker.celery_app:app", "--broker",
         broker_url, "flower", f"--port={port}", "--address=127.0.0.1"],
        env={**scale.env, "FLOWER_UNAUTHENTICATED_API": "true"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 60
            workers: dict = {}
            while set(workers) != {scale.node("ocr"), scale.node("light")}:
                assert time.monotonic() < deadline, f"Flower saw {sorted(workers)}"
                assert flower.poll() is None, flower.stdout.read().decode(errors="replace")
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    if client.get("/healthcheck").text == "OK":
                        workers = client.get("/api/workers", params={"refresh": 1}).json()
                time.sleep(0.5)
            consumed = {name: sorted(q["name"] for q in info.get("active_queues") or [])
                        for name, info in workers.items()}
            assert consumed == {scale.node("ocr"): ["ocr"], scale.node("light"): ["default"]}
    finally:
        os.killpg(flower.pid, signal.SIGKILL)
        flower.wait()


@pytest.mark.parametrize("persistent", [True, False], ids=["aof-everysec", "no-persistence"])
def test_a_redis_restart_mid_batch_loses_nothing(tmp_path: Path, fresh_postgres: str,
                                                  persistent: bool) -> None:
    server = RedisServer(tmp_path / "redis", persistent=persistent)
    try:
        scale = ScaleOut(tmp_path, fresh_postgres, server.url)
        try:
            batch_id = _upload(scale, _texts(200, "restart"))
            _wait_completed(scale, batch_id, 20)
            server.restart()
            _assert_each_processed_once(scale, batch_id, 200)
        finally:
            scale.stop()
    finally:
        server.stop()


RETRIED = re.compile(r"document ([0-9a-f]{32}): transient \w+( while claiming it)?, retrying")


def test_dropped_database_connections_are_retried(tmp_path: Path, fresh_postgres: str,
                                                  redis_server: RedisServer) -> None:
    scale = ScaleOut(tmp_path, fresh_postgres, redis_server.url)
    try:
        batch_id = _upload(scale, _texts(200, "dropdb"))
        _wait_completed(scale, batch_id, 20)
        # Drop every connection to the database, again and again, until a task was caught
        # in the middle of a transaction (an idle pooled connection is just replaced).
        deadline = time.monotonic() + 60
        while not RETRIED.search(scale.log("celery.log")):
            assert time.monotonic() < deadline, "no task met a dropped connection"
            killed = scale.query(
                "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")[0].n
            assert killed > 0
            time.sleep(0.3)
        scale.wait_batch(batch_id)
        # A task that met a dropped connection while working gave its document back and
        # claimed it again; one that met it while claiming may or may not have claimed it.
        retried = RETRIED.findall(scale.log("celery.log"))
        working = Counter(i for i, claiming in retried if not claiming)
        claiming = Counter(i for i, claiming in retried if claiming)
        claims = {i: range(1 + working[i], 2 + working[i] + claiming[i])
                  for i in working | claiming}
        docs = _assert_each_processed_once(scale, batch_id, 200, claims=claims)
        assert set(claims) <= set(docs)
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
        _assert_each_processed_once(scale, batch_id, 6)
        assert "held by a live worker" in scale.log("celery.log"), "no message was redelivered"
    finally:
        scale.stop()
