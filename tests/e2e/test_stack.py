"""End to end: the real stack (`docflow serve` with embedded Valkey, prefork Celery workers,
the housekeeper and the API over HTTP) takes documents in and never loses one."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from docflow.demo import write_demo_corpus
from tests.e2e.stack import Stack
from tests.scans import make_scanned_pdf, text_image

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path / "data", concurrency=2)
    try:
        s.wait_healthy()
        yield s
    finally:
        s.stop()


def _search_ids(stack: Stack, word: str, timeout: float = 15, mode: str = "keyword",
                ) -> list[str]:
    """Hits for a word, waiting the few seconds the indexer may take."""
    deadline = time.monotonic() + timeout
    while True:
        hits = stack.client.get("/api/search", params={"q": word, "mode": mode}).json()["hits"]
        if hits or time.monotonic() > deadline:
            return [h["id"] for h in hits]
        time.sleep(0.5)


def test_a_mixed_batch_with_broken_files_completes_and_is_searchable(tmp_path: Path) -> None:
    files = write_demo_corpus(tmp_path / "corpus", count=55, broken=3, seed=7)
    stack = Stack(tmp_path / "data", concurrency=2, env={"DOCFLOW_SEMANTIC_SEARCH": "true"})
    try:
        stack.wait_healthy()
        workers = stack.client.get("/api/workers").json()
        assert workers["worker_count"] == 1 and workers["workers"][0]["concurrency"] == 2

        upload = [("files", (f.path.name, f.path.read_bytes())) for f in files]
        reply = stack.client.post("/api/batch-upload", files=upload)
        assert reply.status_code == 202, reply.text
        batch = reply.json()
        assert batch["document_count"] == 55
        ids = {d["filename"]: d["document_id"] for d in batch["documents"]}

        status = stack.wait_batch(batch["batch_id"])
        assert status["total"] == 55 and status["progress_percent"] == 100.0
        assert status["completed"] + status["failed"] == 55
        assert (status["queued"], status["processing"]) == (0, 0)

        listing = stack.client.get("/api/documents", params={
            "batch_id": batch["batch_id"], "limit": 100, "count": True}).json()
        by_name = {d["filename"]: d for d in listing["documents"]}
        assert listing["total"] == 55
        for f in files:
            doc = by_name[f.path.name]
            if f.broken:
                assert doc["status"] == "failed", doc
                assert doc["error"]["code"] in ("corrupt", "unsupported_format", "empty")
                assert doc["error"]["message"]
            else:
                assert doc["status"] == "completed", doc
        assert status["failed"] == 3
        # Each document gets the type it was written as; the keyword rules miss a few CSVs.
        good = [f for f in files if not f.broken]
        right = [f for f in good if by_name[f.path.name]["doc_type"] == f.doc_type]
        assert len(right) >= 0.9 * len(good), [
            (f.path.name, by_name[f.path.name]["doc_type"]) for f in good if f not in right]

        # A word that occurs in exactly one document finds exactly that document.
        target = next(f for f in files if not f.broken)
        assert _search_ids(stack, target.unique_word) == [ids[target.path.name]]
        # The default (hybrid) adds documents near in meaning, after the one that has the word.
        assert _search_ids(stack, target.unique_word, mode="hybrid")[0] == ids[target.path.name]
        detail = stack.client.get(f"/api/documents/{ids[target.path.name]}").json()
        assert target.unique_word in detail["text"] and detail["doc_type"]["confidence"] > 0
        original = stack.client.get(f"/api/documents/{ids[target.path.name]}/file")
        assert original.content == target.path.read_bytes()

        # Logs of the API and the workers are kept in the data dir.
        logs = tmp_path / "data" / "logs"
        assert (logs / "api.log").stat().st_size > 0 and (logs / "celery.log").stat().st_size > 0
        started = stack.descendants()
        assert len(started) >= 5  # broker, API, worker + 2 pool processes, housekeeper
    finally:
        code = stack.stop()
    # Ctrl-C stopped everything it started, cleanly.
    assert code == 0, stack.output()
    time.sleep(0.5)
    assert [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []


def test_uploads_stream_to_disk_without_growing_the_api_memory(tmp_path: Path,
                                                                stack: Stack) -> None:
    api = next(p for p in stack.descendants() if "uvicorn" in " ".join(p.cmdline()))
    stack.client.post("/api/upload", files={"file": ("warm.txt", b"warm up")})
    before = api.memory_info().rss
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        for _ in range(150):
            f.write(os.urandom(1024 * 1024))
    with big.open("rb") as f:
        reply = stack.client.post("/api/upload", files={"file": ("big.bin", f)})
    assert reply.status_code == 202, reply.text
    many = [("files", (f"n{i}.txt", os.urandom(20_000))) for i in range(2000)]
    reply = stack.client.post("/api/batch-upload", files=many)
    assert reply.status_code == 202 and reply.json()["document_count"] == 2000
    grown = (api.memory_info().rss - before) / 2**20
    # 150 MiB in one file and 2,000 files (40 MiB) went through; the API kept neither.
    assert grown < 25, f"API memory grew by {grown:.0f} MiB"


def _kill_a_process_holding_a_document(stack: Stack, batch_id: str) -> str | None:
    """SIGKILL the pool process of a document in flight; its id if the kill interrupted it
    (still `processing` on the dead pid, or already claimed again), else None."""
    docs = stack.client.get("/api/documents", params={"batch_id": batch_id,
                                                       "status": "processing"}).json()
    pool = {p.pid: p for p in stack.worker_pool_processes()}
    for doc in docs["documents"]:
        detail = stack.client.get(f"/api/documents/{doc['id']}").json()
        victim = pool.get(detail.get("worker_pid"))
        if victim is None or detail["attempts"] != 1:
            continue
        victim.send_signal(signal.SIGKILL)
        with contextlib.suppress(psutil.NoSuchProcess):
            victim.wait(timeout=30)
        after = stack.client.get(f"/api/documents/{doc['id']}").json()
        still_held = (after["status"], after.get("worker_pid")) == ("processing", victim.pid)
        if still_held or after["attempts"] >= 2:  # or already claimed again
            return doc["id"]
    return None


def test_killing_a_worker_process_mid_batch_loses_no_document(tmp_path: Path,
                                                             stack: Stack) -> None:
    corpus = tmp_path / "big"
    corpus.mkdir()
    # A text page to search for, then scanned pages: seconds of OCR on any machine, so a
    # document is still in flight when its process is killed.
    words = [f"killtest{i:02d}word" for i in range(8)]
    for i, word in enumerate(words):
        scan = text_image([f"Scanned page of document {i}, line {n}." for n in range(25)])
        pages = [f"Quarterly report {word}. " * 10, *[scan] * 6]
        (corpus / f"report{i:02d}.pdf").write_bytes(make_scanned_pdf(pages))
    upload = [("files", (p.name, p.read_bytes())) for p in sorted(corpus.iterdir())]
    batch = stack.client.post("/api/batch-upload", files=upload).json()

    # SIGKILL the pool process that holds a document, and keep trying until a kill is seen to
    # interrupt one: the document is still `processing` on the dead process's pid afterwards.
    # Decided from what the API shows, never from how fast this machine OCRs a page.
    deadline = time.monotonic() + 120
    interrupted = None
    while interrupted is None:
        assert time.monotonic() < deadline, "no document was seen in flight\n" + stack.output()
        interrupted = _kill_a_process_holding_a_document(stack, batch["batch_id"])
        if interrupted is None:
            time.sleep(0.2)

    status = stack.wait_batch(batch["batch_id"], timeout=300)
    assert status["completed"] == 8 and status["failed"] == 0, status
    listing = stack.client.get("/api/documents", params={"batch_id": batch["batch_id"],
                                                          "limit": 100}).json()
    assert {d["status"] for d in listing["documents"]} == {"completed"}
    again = stack.client.get(f"/api/documents/{interrupted}").json()
    assert again["attempts"] >= 2, again
    # Exactly once: each document is in the index once, under its own id.
    for word, doc in zip(words, sorted(listing["documents"], key=lambda d: d["filename"]),
                         strict=True):
        assert _search_ids(stack, word) == [doc["id"]]
    assert stack.client.get("/api/workers").json()["worker_count"] == 1
