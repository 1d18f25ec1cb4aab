"""A Word file whose header part is damaged: its body is read, and it completes with a `partial`
warning naming the skipped part, which the task status, the document, the batch status and
`docflow status` all show; `failed` stays at zero."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from docflow.api.app import create_app
from docflow.cli import app as cli
from docflow.config import Settings
from docflow.store import Store, open_store
from docflow.store import documents as docs
from docflow.store.batches import create_batch
from docflow.worker import runtime as runtime_module
from docflow.worker import tasks
from tests.conftest import put
from tests.fixtures import make_docx
from tests.fixtures_office import rewrite_zip


def damaged_header_docx() -> tuple[bytes, str]:
    data = make_docx(["Dear Ann, the quarterly figures are attached."], header="Letterhead Ltd")
    header = next(name for name in zipfile.ZipFile(io.BytesIO(data)).namelist()
                  if name.startswith("word/header"))
    return rewrite_zip(data, {header: b"<w:hdr><broken"}), header


@pytest.fixture
def processed(settings: Settings) -> Iterator[tuple[Store, TestClient, str, str, str]]:
    runtime_module._current = None
    store = open_store(settings, migrate=True)
    data, header = damaged_header_docx()
    with store.db.write() as session:
        batch_id = create_batch(session, "upload").id
        row, = docs.register_documents(session, [put(store, data, "report.docx")],
                                       batch_id=batch_id)
        doc_id, task_id = row.id, row.task_id
    with store.db.write() as session:
        attempt = docs.claim(session, doc_id, worker="w", host="h", pid=1, lease_seconds=60,
                             max_attempts=4, holder_gone=lambda d: False).attempt
    tasks._process(runtime_module.runtime(), doc_id, attempt, "ocr")
    with TestClient(create_app(settings, configure_logs=False)) as client:
        yield store, client, batch_id, task_id, header
    store.db.dispose()
    runtime_module._current = None


def test_a_partly_damaged_file_completes_and_every_view_names_what_was_skipped(
        processed, settings: Settings) -> None:
    _, client, batch_id, task_id, header = processed
    status = client.get(f"/api/batch-status/{batch_id}").json()
    assert (status["completed"], status["failed"]) == (1, 0)
    assert status["warnings"] == {"partial": 1}
    task = client.get(f"/api/task-status/{task_id}").json()
    assert task["status"] == "completed"
    assert [w["code"] for w in task["warnings"]] == ["partial"]
    assert f"'{header}' is damaged" in task["warnings"][0]["message"]
    listed = client.get("/api/documents", params={"warning": "partial"}).json()
    assert [d["filename"] for d in listed["documents"]] == ["report.docx"]
    doc = client.get(f"/api/documents/{listed['documents'][0]['id']}").json()
    assert "quarterly figures" in doc["text"]

    shown = CliRunner().invoke(cli, ["status", batch_id, "--data-dir", str(settings.data_dir)],
                               env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "partial 1" in shown.output and "report.docx" in shown.output
    assert f"'{header}' is damaged" in shown.output
