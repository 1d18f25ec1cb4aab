"""A batch with a photo, a letter and an empty file: the photo completes with a no_text warning
that the task status, the document, the document list, the batch status and `docflow status`
all show, while `failed` counts only the file a person must fix."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from docflow.api.app import create_app
from docflow.cli import app as cli
from docflow.config import Settings
from docflow.pipeline import DocumentError
from docflow.store import Store, open_store
from docflow.store import documents as docs
from docflow.store.batches import create_batch
from docflow.worker import runtime as runtime_module
from docflow.worker import tasks
from docflow.worker.results import fail
from tests.conftest import put
from tests.scans import image_bytes


@dataclass
class Processed:
    store: Store
    client: TestClient
    batch_id: str
    ids: dict[str, str]
    tasks: dict[str, str]


@pytest.fixture
def processed(settings: Settings) -> Iterator[Processed]:
    runtime_module._current = None
    store = open_store(settings, migrate=True)
    photo = image_bytes(Image.new("RGB", (640, 480), (40, 120, 60)), "JPEG")
    files = [("photo.jpg", photo), ("letter.txt", b"Dear Ann, thank you for the visit."),
             ("empty.txt", b"")]
    with store.db.write() as session:
        batch_id = create_batch(session, "upload").id
        rows = docs.register_documents(session, [put(store, body, name) for name, body in files],
                                       batch_id=batch_id)
        ids = {row.filename: row.id for row in rows}
        task_ids = {row.filename: row.task_id for row in rows}
    rt = runtime_module.runtime()
    for doc_id in ids.values():  # as an OCR-queue worker does, in this process
        with store.db.write() as session:
            attempt = docs.claim(session, doc_id, worker="w", host="h", pid=1, lease_seconds=60,
                                 max_attempts=4, holder_gone=lambda d: False).attempt
        try:
            tasks._process(rt, doc_id, attempt, "ocr")
        except DocumentError as error:  # what the task's guard does with a bad document
            fail(rt, doc_id, attempt, error.code, error.message)
    with TestClient(create_app(settings, configure_logs=False)) as client:
        yield Processed(store, client, batch_id, ids, task_ids)
    store.db.dispose()
    runtime_module._current = None


def test_the_batch_status_counts_the_photo_as_completed_with_a_warning(
        processed: Processed) -> None:
    status = processed.client.get(f"/api/batch-status/{processed.batch_id}").json()
    assert status == {"batch_id": processed.batch_id, "total": 3, "completed": 2,
                      "processing": 0, "queued": 0, "failed": 1, "cancelled": 0,
                      "progress_percent": 100.0, "with_warnings": 1, "warnings": {"no_text": 1}}


def test_the_photo_says_no_text_on_its_task_its_document_and_in_the_list(
        processed: Processed) -> None:
    client = processed.client
    task = client.get(f"/api/task-status/{processed.tasks['photo.jpg']}").json()
    assert task["status"] == "completed" and task["error"] is None
    assert [w["code"] for w in task["warnings"]] == ["no_text"]
    assert "OCR found no text" in task["warnings"][0]["message"]
    doc = client.get(f"/api/documents/{processed.ids['photo.jpg']}").json()
    assert doc["status"] == "completed" and doc["text"] == ""
    assert doc["doc_type"]["name"] == "other"
    assert [w["code"] for w in doc["warnings"]] == ["no_text"]
    letter = client.get(f"/api/task-status/{processed.tasks['letter.txt']}").json()
    assert letter["status"] == "completed" and letter["warnings"] == []
    empty = client.get(f"/api/task-status/{processed.tasks['empty.txt']}").json()
    assert empty["status"] == "failed" and empty["error"]["code"] == "empty"

    listed = client.get("/api/documents", params={"batch_id": processed.batch_id,
                                                   "warning": "no_text"}).json()
    assert [d["filename"] for d in listed["documents"]] == ["photo.jpg"]
    assert listed["documents"][0]["warnings"][0]["code"] == "no_text"
    truncated = client.get("/api/documents", params={"warning": "truncated", "count": True})
    assert truncated.json()["total"] == 0
    assert client.get("/api/documents", params={"warning": "No Text!"}).status_code == 422


def test_docflow_status_shows_completed_with_warnings_and_each_warning(
        processed: Processed, settings: Settings) -> None:
    shown = CliRunner().invoke(cli, ["status", processed.batch_id, "--data-dir",
                                     str(settings.data_dir)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "2 completed (1 with warnings), 1 failed" in shown.output
    assert "no_text 1" in shown.output
    assert "photo.jpg" in shown.output and "OCR found no text" in shown.output
    assert "empty.txt" in shown.output
