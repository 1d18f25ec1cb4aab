"""A long scan on the ocr queue is OCR'd in page-range parts, run here one by one on a real
SQLite store, in any order: the document comes out as if it had been read whole, once."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis
from PIL import Image
from sqlalchemy import select

from docflow import pipeline
from docflow.config import Settings
from docflow.pipeline.errors import CorruptDocument
from docflow.pipeline.extract import pages as pages_module
from docflow.pipeline.ocr import OcrResult
from docflow.store import Document, DocumentStatus, Store
from docflow.store import documents as docs
from docflow.store import ocr_parts as store_parts
from docflow.store.models import OcrPart, OcrPartStatus, utcnow
from docflow.worker import ocr_parts as worker_parts
from docflow.worker import results, tasks
from docflow.worker import runtime as runtime_module
from docflow.worker.dispatch import Dispatcher, TaskRef
from docflow.worker.ocr_parts import ocr_part
from docflow.worker.reconciler import reconcile
from tests.conftest import put
from tests.scans import make_scanned_pdf

TEXT_PAGE = "This page was typed in a word processor and saved as PDF; its text layer is real."


@pytest.fixture(autouse=True)
def two_ocr_pages_per_task(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCFLOW_OCR_PAGES_PER_TASK", "2")
    runtime_module._current = None  # the tasks read the environment afresh
    monkeypatch.setattr(results, "_dispatchers", {})  # and send to this test's broker
    monkeypatch.setattr(pages_module, "ocr_image", _fake_ocr)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[TaskRef]:
    refs: list[TaskRef] = []
    monkeypatch.setattr(Dispatcher, "send", lambda self, new: refs.extend(new) or len(refs))
    return refs


def _scan(number: int) -> Image.Image:
    """A page image whose width says which page it is (see _fake_ocr)."""
    image = Image.new("L", (400 + 20 * number, 300), 255)
    image.paste(0, (20, 20, 60, 40))
    return image


def _fake_ocr(image: Image.Image, options: object, dpi: int | None = None) -> OcrResult:
    number = (round(image.width * 200 / 300) - 400) // 20  # rendered at 300 dpi from 200
    return OcrResult(text=f"Scanned page {number} of the invoice", confidence=0.9)


# Pages 1-3 and 5-7 are scans, 4 and 8-9 have a text layer: with two OCR pages per task the
# ranges are 1-2, 3-5, 6-7 and 8-9, the last of which needs no OCR.
LAYOUT = [_scan(1), _scan(2), _scan(3), f"{TEXT_PAGE} 4", _scan(5), _scan(6), _scan(7),
          f"{TEXT_PAGE} 8", f"{TEXT_PAGE} 9"]


def _split(store: Store, pdf: bytes) -> str:
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, pdf, "long-scan.pdf")])
        doc_id = doc.id
    assert tasks._process(runtime_module.runtime(), doc_id, _claim(store, doc_id),
                          "ocr") == "split"
    return doc_id


def _claim(store: Store, doc_id: str) -> int:
    with store.db.write() as session:
        return docs.claim(session, doc_id, worker="w", host="h", pid=1, lease_seconds=60,
                          max_attempts=4, holder_gone=lambda d: False).attempt


def _parts(store: Store, doc_id: str) -> list[OcrPart]:
    with store.db.read() as session:
        return list(session.scalars(select(OcrPart).where(OcrPart.document_id == doc_id)
                                    .order_by(OcrPart.attempt, OcrPart.first_page)))


def _get(store: Store, doc_id: str) -> Document:
    with store.db.read() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        return doc


def test_a_long_scan_is_split_into_parts_of_at_most_n_ocr_pages(store: Store,
                                                               sent: list[TaskRef]) -> None:
    doc_id = _split(store, make_scanned_pdf(LAYOUT))
    parts = _parts(store, doc_id)
    assert [(p.first_page, p.last_page) for p in parts] == [(1, 2), (3, 5), (6, 7), (8, 9)]
    # The text-only range was read at once; only the three with scans became tasks.
    assert [p.status for p in parts] == ["queued"] * 3 + ["completed"]
    assert [page["text"] for page in parts[3].pages] == [f"{TEXT_PAGE} 8", f"{TEXT_PAGE} 9"]
    assert [(r.part_id, r.task_id, r.queue) for r in sent] == [
        (p.id, p.task_id, "ocr") for p in parts[:3]]
    doc = _get(store, doc_id)
    # No worker holds the document while its parts run, so no lease can run out under them.
    assert (doc.status, doc.ocr_parts, doc.lease_until, doc.attempts) == (
        DocumentStatus.PROCESSING, 4, None, 1)
    # A redelivered message for the document itself leaves the parts to it.
    assert tasks.process_document(doc_id) == "split"


def test_a_scan_with_few_pages_to_ocr_is_read_in_one_task(store: Store,
                                                          sent: list[TaskRef]) -> None:
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, make_scanned_pdf(
            [_scan(1), f"{TEXT_PAGE} 2", _scan(3), f"{TEXT_PAGE} 4"]), "short.pdf")])
    assert tasks._process(runtime_module.runtime(), doc.id, _claim(store, doc.id),
                          "ocr") == "processed"
    assert _parts(store, doc.id) == [] and sent == []
    assert _get(store, doc.id).status == DocumentStatus.COMPLETED


def test_parts_finishing_in_any_order_join_in_page_order(store: Store,
                                                         sent: list[TaskRef]) -> None:
    pdf = make_scanned_pdf(LAYOUT)
    doc_id = _split(store, pdf)
    part_ids = [r.part_id for r in sent]
    assert [ocr_part(part_id) for part_id in reversed(part_ids)] == [
        "stored", "stored", "processed"]
    doc = _get(store, doc_id)
    assert doc.status == DocumentStatus.COMPLETED and doc.ocr_parts is None
    assert doc.page_count == 9 and doc.doc_type == "invoice" and doc.lease_until is None
    whole = pipeline.process_document(pdf, "long-scan.pdf")
    with store.db.read() as session:
        text = docs.get_text(session, doc.sha256)
    assert text == whole.extracted.text
    assert [line.split(" of ")[0] for line in text.split("\n\n")] == [
        "Scanned page 1", "Scanned page 2", "Scanned page 3", f"{TEXT_PAGE} 4",
        "Scanned page 5", "Scanned page 6", "Scanned page 7", f"{TEXT_PAGE} 8", f"{TEXT_PAGE} 9"]
    assert {p.status for p in _parts(store, doc_id)} == {OcrPartStatus.COMPLETED}


def test_a_redelivered_part_stores_nothing_twice(store: Store, sent: list[TaskRef]) -> None:
    doc_id = _split(store, make_scanned_pdf(LAYOUT))
    first, *others = [r.part_id for r in sent]
    assert ocr_part(first) == "stored"
    stored = _parts(store, doc_id)[0]
    assert ocr_part(first) == "stored"  # the same message again: read once, kept once
    again = _parts(store, doc_id)[0]
    assert (again.tries, again.finished_at, again.pages) == (1, stored.finished_at, stored.pages)
    assert [ocr_part(part_id) for part_id in others] == ["stored", "processed"]
    finished = _get(store, doc_id)
    assert ocr_part(others[0]) == "obsolete"  # after the document is done
    assert _get(store, doc_id).finished_at == finished.finished_at
    with store.db.read() as session:
        pages = session.scalars(select(OcrPart.pages).where(OcrPart.document_id == doc_id))
        numbers = [page["number"] for rows in pages for page in rows]
    assert sorted(numbers) == list(range(1, 10))


def test_a_failing_part_fails_the_document_once_with_its_reason(
        store: Store, sent: list[TaskRef], monkeypatch: pytest.MonkeyPatch) -> None:
    doc_id = _split(store, make_scanned_pdf(LAYOUT))
    real = worker_parts.ocr_pdf_pages

    def broken_middle(data: bytes, first: int, last: int, limits: object) -> list:
        if first == 3:
            raise CorruptDocument("Page 4 of the PDF is damaged; re-export it.")
        return real(data, first, last, limits)

    monkeypatch.setattr(worker_parts, "ocr_pdf_pages", broken_middle)
    first, middle, last = [r.part_id for r in sent]
    assert ocr_part(first) == "stored"
    assert ocr_part(middle) == "failed"
    doc = _get(store, doc_id)
    assert (doc.status, doc.error_code, doc.error_message) == (
        DocumentStatus.FAILED, "corrupt", "Page 4 of the PDF is damaged; re-export it.")
    assert [p.status for p in _parts(store, doc_id)] == [
        "completed", "failed", "cancelled", "completed"]
    assert ocr_part(last) == "obsolete"  # the parts left are called off
    assert _get(store, doc_id).finished_at == doc.finished_at


def test_a_document_processed_again_never_mixes_in_parts_of_its_earlier_attempt(
        store: Store, sent: list[TaskRef]) -> None:
    doc_id = _split(store, make_scanned_pdf(LAYOUT))
    old = [r.part_id for r in sent]
    assert ocr_part(old[0]) == "stored"
    with store.db.write() as session:  # e.g. an operator puts it back in the queue
        docs.release(session.get(Document, doc_id))
    sent.clear()
    assert tasks._process(runtime_module.runtime(), doc_id, _claim(store, doc_id),
                          "ocr") == "split"
    new = [r.part_id for r in sent]
    assert set(new).isdisjoint(old)
    by_id = {p.id: p for p in _parts(store, doc_id)}
    assert [by_id[p].status for p in old] == ["completed", "cancelled", "cancelled"]
    assert ocr_part(old[1]) == "obsolete"
    assert [ocr_part(part_id) for part_id in new] == ["stored", "stored", "processed"]
    doc = _get(store, doc_id)
    assert doc.status == DocumentStatus.COMPLETED and doc.attempts == 2
    assert {by_id[p].attempt for p in old} == {1}
    assert all(p.attempt == 2 for p in _parts(store, doc_id) if p.id in new)



def _queued_part_ids(broker: redis.Redis) -> list[str]:
    ids = []
    for raw in broker.lrange("ocr", 0, -1):
        message = json.loads(raw)
        assert message["headers"]["task"] == "docflow.ocr_part"
        args, _, _ = json.loads(base64.b64decode(message["body"]))
        ids.append(args[0])
    return ids


def test_the_reconciler_sends_lost_and_abandoned_parts_again(
        settings: Settings, store: Store, broker: redis.Redis) -> None:
    doc_id = _split(store, make_scanned_pdf(LAYOUT))
    parts = [p for p in _parts(store, doc_id) if p.status == OcrPartStatus.QUEUED]
    assert sorted(_queued_part_ids(broker)) == sorted(p.id for p in parts)
    dispatcher = Dispatcher(settings)

    broker.flushall()  # the broker lost its queue
    with store.db.write() as session:
        for part in session.scalars(select(OcrPart).where(OcrPart.document_id == doc_id)):
            part.enqueued_at = utcnow() - timedelta(seconds=settings.resend_after_seconds + 1)
    report = reconcile(store, dispatcher, settings)
    assert (report.lost_messages, report.sent) == (3, 3)
    assert sorted(_queued_part_ids(broker)) == sorted(p.id for p in parts)

    # A worker took the middle part and died: its lease runs out and the part goes out again.
    broker.flushall()
    with store.db.write() as session:
        middle = session.get(OcrPart, parts[1].id)
        middle.status, middle.tries = OcrPartStatus.PROCESSING, 1
        middle.worker, middle.worker_host, middle.worker_pid = "dead@elsewhere", "elsewhere", 1
        middle.lease_until = utcnow() - timedelta(seconds=1)
    report = reconcile(store, dispatcher, settings)
    assert report.expired_leases == 1 and _queued_part_ids(broker)[:1] == [parts[1].id]
    assert _parts(store, doc_id)[1].status == OcrPartStatus.QUEUED
    # The document, waiting on its parts, was left alone throughout.
    doc = _get(store, doc_id)
    assert (doc.status, doc.attempts, doc.ocr_parts) == (DocumentStatus.PROCESSING, 1, 4)

    # Every part runs (the resent middle one too); the document completes once.
    assert [ocr_part(p.id) for p in parts] == ["stored", "stored", "processed"]
    assert _get(store, doc_id).status == DocumentStatus.COMPLETED
    dispatcher.close()


def test_a_document_whose_finishing_worker_died_is_finished_by_a_resent_part(
        settings: Settings, store: Store, sent: list[TaskRef]) -> None:
    doc_id = _split(store, make_scanned_pdf(LAYOUT))
    part_ids = [r.part_id for r in sent]
    for part_id in part_ids:
        with store.db.write() as session:  # every part stored, as their tasks would
            part = session.get(OcrPart, part_id)
            pages = worker_parts.ocr_pdf_pages(store.blobs.read(_get(store, doc_id).sha256),
                                               part.first_page, part.last_page,
                                               settings.limits)
            part.pages = worker_parts._rows(pages)
            part.status = OcrPartStatus.COMPLETED
    with store.db.write() as session:  # ... and the last one died while finishing
        doc = session.get(Document, doc_id)
        doc.worker, doc.worker_host, doc.worker_pid = "dead@elsewhere", "elsewhere", 1
        doc.lease_until = utcnow() - timedelta(seconds=1)
    sent.clear()
    report = reconcile(store, Dispatcher(settings), settings)
    assert report.expired_leases == 1
    assert [r.part_id for r in sent] == [_parts(store, doc_id)[-1].id]
    assert _get(store, doc_id).status == DocumentStatus.PROCESSING  # not OCR'd all over again
    assert ocr_part(sent[0].part_id) == "processed"
    assert _get(store, doc_id).status == DocumentStatus.COMPLETED


def test_of_two_parts_ending_together_exactly_one_finishes_the_document(
        any_store: Store, sent: list[TaskRef], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCFLOW_DATABASE_URL", any_store.db.url)
    monkeypatch.setenv("DOCFLOW_OCR_PAGES_PER_TASK", "3")
    runtime_module._current = None
    doc_id = _split(any_store, make_scanned_pdf(LAYOUT))
    part_ids = [r.part_id for r in sent]
    assert len(part_ids) == 2
    count = store_parts.remaining
    together = threading.Barrier(2)

    def count_when_both_stored(session: object, *args: object) -> int:
        # Without the document's row lock both parts would count here before either commits,
        # each see the other's part missing, and neither finish. With it the second waits.
        with contextlib.suppress(threading.BrokenBarrierError):
            together.wait(timeout=3)
        return count(session, *args)

    monkeypatch.setattr(store_parts, "remaining", count_when_both_stored)
    # PDFium is not thread-safe (workers are processes; these threads stand in for two):
    # the threads take turns with it and race only where the test means them to, in the DB.
    pdfium = threading.Lock()

    def one_at_a_time(call: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            with pdfium:
                return call(*args, **kwargs)
        return run

    monkeypatch.setattr(worker_parts, "ocr_pdf_pages", one_at_a_time(worker_parts.ocr_pdf_pages))
    monkeypatch.setattr(worker_parts.pipeline, "process_pdf_pages",
                        one_at_a_time(worker_parts.pipeline.process_pdf_pages))
    outcomes: list[str] = []
    threads = [threading.Thread(target=lambda p=p: outcomes.append(ocr_part(p)))
               for p in part_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(outcomes) == ["processed", "stored"]
    assert _get(any_store, doc_id).status == DocumentStatus.COMPLETED
