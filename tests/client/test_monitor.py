"""Following batches until done: per batch and overall, to 100%, from a batch ids file."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy import select, update

from docflow.client import BatchState, run_monitor
from docflow.client.monitor import MonitorView, PlainMonitorDisplay
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
    # A log gets each batch's counts as they change, not only the overall line.
    assert re.search(rf"batch {ids[0]}: \d+ completed, [01] failed, 0 processing of 12 "
                     r"\(100.0% done\)", text), text
    assert re.search(rf"batch {ids[1]}: \d+ completed, [01] failed, 0 processing of 8 ", text)
    for batch_id in ids:
        assert batch_id in text  # the per-batch table


def _states(n: int, completed: int) -> MonitorView:
    view = MonitorView([f"b{i:03d}" for i in range(n)])
    for b in view.batch_ids:
        view.states[b] = BatchState(b, 10, completed, 10 - completed, 0, 0,
                                    completed * 10.0)
    return view


def test_a_log_gets_a_line_per_changed_batch_but_never_a_flood() -> None:
    out = io.StringIO()
    display = PlainMonitorDisplay(Console(file=out, width=160), every=0)
    display.update(_states(500, completed=1))
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["batch b000: 1 completed, 0 failed, 9 processing of 10 (10.0% done)",
                         "batch b001: 1 completed, 0 failed, 9 processing of 10 (10.0% done)"]
    assert len(lines) == 12 and lines[10] == "… and 490 more batches changed"
    assert lines[11].startswith("processing: 500/5,000 documents")


def test_each_changed_batch_gets_its_turn_and_an_unchanged_one_is_not_repeated() -> None:
    out = io.StringIO()

    def update(view: MonitorView) -> list[str]:
        out.truncate(0), out.seek(0)
        display.update(view)
        return [line.split(":")[0] for line in out.getvalue().splitlines()
                if line.startswith("batch ")]

    display = PlainMonitorDisplay(Console(file=out, width=160), every=0, batch_lines=10)
    assert update(_states(15, completed=1)) == [f"batch b{i:03d}" for i in range(10)]
    assert update(_states(15, completed=1)) == [f"batch b{i:03d}" for i in range(10, 15)]
    assert update(_states(15, completed=1)) == []
    view = _states(15, completed=1)
    view.states["b003"] = BatchState("b003", 10, 4, 6, 0, 0, 40.0)
    assert update(view) == ["batch b003"]


def test_many_batches_end_with_those_failed_or_unfinished(
        tmp_path: Path, api: ApiServer, settings: Settings) -> None:
    ids = [_batch(api.url, 1) for _ in range(34)]
    store = open_store(settings)
    with store.db.write() as session:  # play the workers: ids[0] waits, 31 fail, 2 complete
        for i, batch_id in enumerate(ids[1:], start=1):
            status = DocumentStatus.FAILED if i <= 31 else DocumentStatus.COMPLETED
            session.execute(update(Document).where(Document.batch_id == batch_id)
                            .values(status=status))
    store.db.dispose()
    ids_file = tmp_path / "batch_ids.json"
    ids_file.write_text(json.dumps({"url": api.url, "batch_ids": ids}))
    out = io.StringIO()
    code = run_monitor(ids_file, Console(file=out, width=200), interval=0.05, timeout=0.3)
    text = out.getvalue()
    assert code == 1, text  # ids[0] never finished
    table = text[text.index("32 of 34 batches have failures or are unfinished"):]
    assert all(batch_id in table for batch_id in ids[:30]), table
    assert not any(batch_id in table for batch_id in ids[30:])
    assert "… and 2 more" in table


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
