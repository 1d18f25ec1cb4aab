"""Following batches until done: per batch and overall, to 100%, from a batch ids file."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy import select, update

from docflow.client import run_monitor
from docflow.config import Settings
from docflow.store import Document, DocumentStatus, open_store
from tests.client.conftest import ApiServer


def _batch(url: str, files: int) -> str:
    batch_id = httpx.post(f"{url}/api/batches", json={"name": "m"}).json()["batch_id"]
    parts = [("files", (f"{i}.txt", f"text {i}".encode(), "text/plain")) for i in range(files)]
    assert httpx.post(f"{url}/api/batches/{batch_id}/files", files=parts).status_code == 202
    return str(batch_id)


def _finish_slowly(settings: Settings, stop: threading.Event) -> None:
    """Play the workers: complete (and fail one) document at a time."""
    store = open_store(settings)
    try:
        first = True
        while not stop.is_set():
            with store.db.write() as session:
                doc_id = session.scalars(select(Document.id).where(
                    Document.status == DocumentStatus.QUEUED).limit(1)).first()
                if doc_id is None:
                    return
                status = DocumentStatus.FAILED if first else DocumentStatus.COMPLETED
                session.execute(update(Document).where(Document.id == doc_id)
                                .values(status=status))
            first = False
            time.sleep(0.02)
    finally:
        store.db.dispose()


def test_monitor_follows_batches_to_100_percent(tmp_path: Path, api: ApiServer,
                                                settings: Settings) -> None:
    ids = [_batch(api.url, 12), _batch(api.url, 8)]
    ids_file = tmp_path / "batch_ids.json"
    ids_file.write_text(json.dumps({"url": api.url, "batch_ids": ids}))
    stop = threading.Event()
    worker = threading.Thread(target=_finish_slowly, args=(settings, stop))
    worker.start()
    out = io.StringIO()
    try:
        code = run_monitor(ids_file, Console(file=out, width=160), interval=0.1, timeout=60)
    finally:
        stop.set()
        worker.join()
    text = out.getvalue()
    assert code == 0, text
    assert "20/20 documents (100.0%)" in text and "19 completed, 1 failed" in text
    assert "batches 2/2 done" in text and "all 2 batches done" in text
    for batch_id in ids:
        assert batch_id in text  # the per-batch table


def test_monitor_gives_up_at_its_timeout_and_says_so(tmp_path: Path, api: ApiServer) -> None:
    ids_file = tmp_path / "ids.json"
    ids_file.write_text(json.dumps([_batch(api.url, 2), "no-such-batch"]))
    out = io.StringIO()
    code = run_monitor(ids_file, Console(file=out, width=160), url=api.url, interval=0.1,
                       timeout=0.3)
    assert code == 1
    text = out.getvalue()
    assert "no batch no-such-batch" in text and "Gave up waiting" in text
    assert "0/2 documents (0.0%)" in text


def test_a_bad_batch_ids_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "ids.json"
    bad.write_text("{\"nope\": 1}")
    out = io.StringIO()
    assert run_monitor(bad, Console(file=out, width=160)) == 2
    assert "holds no batch ids" in out.getvalue()
