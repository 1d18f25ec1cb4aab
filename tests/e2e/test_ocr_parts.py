"""End to end: a scanned PDF is OCR'd in page-range parts by several worker processes of the
real stack, and its text comes out in page order."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.stack import Stack
from tests.scans import make_scanned_pdf, text_image

pytestmark = pytest.mark.e2e


def test_a_long_scan_is_read_in_parts_by_several_workers_in_page_order(tmp_path: Path) -> None:
    pages = [text_image([f"Section {n} of the scanned report", f"Reference code {n}{n}{n}"])
             for n in range(1, 9)]
    stack = Stack(tmp_path / "data", concurrency=2, env={"DOCFLOW_OCR_PAGES_PER_TASK": "2"})
    try:
        stack.wait_healthy()
        reply = stack.client.post("/api/upload", files={
            "file": ("report.pdf", make_scanned_pdf(pages))})
        assert reply.status_code == 202, reply.text
        doc_id = reply.json()["document_id"]
        deadline = time.monotonic() + 180
        while (doc := stack.client.get(f"/api/documents/{doc_id}").json())["status"] not in (
                "completed", "failed") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert doc["status"] == "completed", (doc, stack.output())
        positions = [doc["text"].find(f"Section {n} of") for n in range(1, 9)]
        assert -1 not in positions and positions == sorted(positions), doc["text"]
        assert doc["page_count"] == 8

        engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'docflow.db'}")
        with engine.connect() as conn:
            parts = conn.execute(text(
                "SELECT first_page, last_page, status, worker_pid FROM ocr_parts "
                "WHERE document_id = :id ORDER BY first_page"), {"id": doc_id}).all()
        engine.dispose()
        assert [(p.first_page, p.last_page, p.status) for p in parts] == [
            (1, 2, "completed"), (3, 4, "completed"), (5, 6, "completed"), (7, 8, "completed")]
        assert len({p.worker_pid for p in parts}) > 1, "the parts all ran in one process"
    finally:
        assert stack.stop() == 0, stack.output()
