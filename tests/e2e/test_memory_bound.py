"""End to end: a document that needs more memory than `max_document_memory_mb` fails alone as
too_large, is not sent again, and the worker (its pool process replaced) goes on with the rest;
a PDF bomb fails at once as decompression_bomb."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.stack import Stack
from tests.pdf_bombs import pdf_with_content

pytestmark = pytest.mark.e2e
MB = 1024 * 1024


def test_a_memory_hog_fails_as_too_large_and_the_worker_goes_on(tmp_path: Path) -> None:
    env = {"DOCFLOW_MAX_DOCUMENT_MEMORY_MB": "700",
           "DOCFLOW_MAX_UNPACKED_BYTES": str(64 * MB)}
    stack = Stack(tmp_path / "data", concurrency=1, env=env)
    try:
        stack.wait_healthy()
        pool_before = {p.pid for p in stack.worker_pool_processes()}
        # 48 MB of line-drawing operators: PDFium builds ~1.5 GB of path objects for them.
        hog = pdf_with_content(48 * MB, b"0 0 m 1 1 l S\n")
        bomb = pdf_with_content(300 * MB)
        files = [("files", ("hog.pdf", hog)), ("files", ("bomb.pdf", bomb)),
                 ("files", ("a.txt", b"Dear Ann, thank you for your letter. Sincerely, Bo")),
                 ("files", ("b.txt", b"Minutes of the meeting of the board, 3 May."))]
        batch = stack.client.post("/api/batch-upload", files=files).json()
        status = stack.wait_batch(batch["batch_id"], timeout=180)
        assert (status["completed"], status["failed"]) == (2, 2), (status, stack.output())
        ids = {d["filename"]: d["document_id"] for d in batch["documents"]}
        docs = {name: stack.client.get(f"/api/documents/{i}").json() for name, i in ids.items()}
        assert docs["hog.pdf"]["error"]["code"] == "too_large", docs["hog.pdf"]
        assert "700 MiB" in docs["hog.pdf"]["error"]["message"]
        assert docs["hog.pdf"]["attempts"] == 1  # recorded before the process died: not resent
        assert docs["bomb.pdf"]["error"]["code"] == "decompression_bomb"
        assert docs["a.txt"]["status"] == docs["b.txt"]["status"] == "completed"
        assert not pool_before & {p.pid for p in stack.worker_pool_processes()}
    finally:
        assert stack.stop() == 0, stack.output()
