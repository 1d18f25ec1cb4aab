"""Cancel: a user stops a batch or a document; queued work never starts, running work stops
between OCR pages, and cancelled documents are finished without counting as failed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from docflow.api.app import create_app
from docflow.config import Settings
from docflow.pipeline.extract import pages as pages_module
from docflow.pipeline.ocr import OcrResult
from docflow.store import Document, DocumentStatus, Store
from docflow.store import documents as docs
from docflow.store.cancel import cancel_document
from docflow.worker import runtime as runtime_module
from docflow.worker.cancel import Cancelled, Interruption
from docflow.worker.tasks import process_document
from tests.conftest import put
from tests.scans import make_scanned_pdf


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, configure_logs=False)) as c:
        yield c


def _status(store: Store, doc_id: str) -> str:
    with store.db.read() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        return doc.status


def test_a_cancelled_batch_never_starts_and_is_not_failed(
        client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime_module._current = None
    files = [("files", (f"{n}.txt", f"Dear Ann, letter {n}.".encode(), "text/plain"))
             for n in range(3)]
    batch = client.post("/api/batch-upload", files=files).json()
    first = batch["documents"][0]["document_id"]
    assert process_document(first) == "processed"  # one finished before the cancel

    reply = client.post(f"/api/batches/{batch['batch_id']}/cancel")
    assert reply.status_code == 200 and reply.json() == {"cancelled": 2}
    status = client.get(f"/api/batch-status/{batch['batch_id']}").json()
    assert (status["completed"], status["failed"], status["cancelled"]) == (1, 0, 2)
    assert status["progress_percent"] == 100.0
    for doc in batch["documents"][1:]:  # their messages arrive later: nothing is done
        assert process_document(doc["document_id"]) == "done"
        detail = client.get(f"/api/documents/{doc['document_id']}").json()
        assert detail["status"] == "cancelled" and detail["error"]["code"] == "cancelled"
    assert client.post(f"/api/batches/{batch['batch_id']}/cancel").json() == {"cancelled": 0}
    assert client.post(f"/api/documents/{first}/cancel").status_code == 409
    assert client.post("/api/documents/nope/cancel").status_code == 404
    assert client.post("/api/batches/nope/cancel").status_code == 404


def test_one_queued_document_is_cancelled(client: TestClient) -> None:
    up = client.post("/api/upload", files={"file": ("a.txt", b"Dear Ann, hi.", "text/plain")})
    reply = client.post(f"/api/documents/{up.json()['document_id']}/cancel")
    assert reply.status_code == 200 and reply.json()["status"] == "cancelled"


def test_a_document_being_read_stops_between_ocr_pages(
        settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCFLOW_OCR_PAGES_PER_TASK", "0")  # one task reads every page
    monkeypatch.setenv("DOCFLOW_LEASE_SECONDS", "3")  # renewed, and checked, every second
    runtime_module._current = None
    read: list[int] = []
    cancelled = threading.Event()

    def slow_ocr(image: Image.Image, options: object, dpi: int | None = None) -> OcrResult:
        read.append(image.width)
        deadline = time.monotonic() + 60
        while not cancelled.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)  # a page takes a while; the interruption lands in here
        while time.monotonic() < deadline:  # a reader not stopped goes on reading
            time.sleep(0.01)
        return OcrResult(text="Scanned page", confidence=0.9)

    monkeypatch.setattr(pages_module, "ocr_image", slow_ocr)
    scans = [Image.new("L", (400 + 20 * n, 300), 255) for n in range(5)]
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, make_scanned_pdf(scans), "s.pdf")])
    outcome: list[object] = []
    reader = threading.Thread(target=lambda: outcome.append(
        process_document.apply(args=[doc.id], routing_key="ocr").result))
    reader.start()
    deadline = time.monotonic() + 60
    while not read:
        assert time.monotonic() < deadline, "the first page was never read"
        time.sleep(0.05)
    with store.db.write() as session:
        assert cancel_document(session, doc.id)
    cancelled.set()
    reader.join(timeout=120)
    assert outcome == ["cancelled"] and len(read) == 1
    assert _status(store, doc.id) == DocumentStatus.CANCELLED


def test_an_interruption_fired_before_the_reading_stops_it_at_once() -> None:
    reading = Interruption()
    reading.fire()
    with pytest.raises(Cancelled), reading.point():
        pytest.fail("the reading started")
