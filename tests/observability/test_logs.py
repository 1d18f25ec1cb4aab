"""The log at 500,000 documents: one line per document's end, and no line per status poll."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from docflow.api.app import create_app
from docflow.broker import free_port
from docflow.config import Settings
from docflow.logs import configure_logging
from docflow.observability.documents import DocumentEnd
from docflow.store import Store


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes the process's root logger; give pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_documents_end_is_one_line_with_its_ids_status_code_and_stage_times() -> None:
    end = DocumentEnd("d1", "b1", "completed", None, 10, {"detect": 0.0012, "extract": 0.25},
                      pages=3, ocr_pages=1)
    assert end.line() == ("document d1 completed batch=b1 code=- pages=3 ocr_pages=1 "
                          "ms: detect=1 extract=250")
    failed = DocumentEnd("d2", None, "failed", "corrupt", 10)
    assert failed.line() == "document d2 failed batch=- code=corrupt pages=0 ocr_pages=0 ms: -"


def test_json_lines_carry_the_documents_facts_as_keys(
        tmp_path: Path, restore_logging: None) -> None:
    configure_logging(tmp_path, "x.log", "INFO", "json")
    end = DocumentEnd("d1", "b1", "failed", "timeout", 10, {"detect": 0.002})
    logging.getLogger("docflow.documents").info(end.line(), extra={"docflow": end.fields()})
    (line,) = (tmp_path / "x.log").read_text().splitlines()
    record = json.loads(line)
    assert record["message"] == end.line() and record["level"] == "INFO"
    assert (record["event"], record["document_id"], record["batch_id"]) == (
        "document_end", "d1", "b1")
    assert (record["status"], record["code"], record["stage_ms"]) == (
        "failed", "timeout", {"detect": 2})


def test_an_unknown_log_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DOCFLOW_LOG_FORMAT"):
        configure_logging(tmp_path, "x.log", "INFO", "xml")


def test_status_polls_leave_no_access_line_but_changes_and_errors_do(
        settings: Settings, store: Store, restore_logging: None) -> None:
    port = free_port()
    # create_app configures logging as under `docflow serve`; uvicorn logs through it.
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(5):
                assert client.get("/api/limits").status_code == 200
                assert client.get("/api/batch-status/nosuchbatch").status_code == 404
            assert client.post("/api/upload", files={"file": ("a.txt", b"hello")}).status_code \
                == 202
    finally:
        server.should_exit = True
        thread.join(30)
    log = (settings.logs_path / "api.log").read_text()
    assert "GET /api/limits" not in log
    assert log.count("GET /api/batch-status/nosuchbatch") == 5  # refusals stay visible
    assert log.count("POST /api/upload") == 1
