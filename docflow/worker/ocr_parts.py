"""OCR of a long scanned PDF in page-range parts, run by several workers and joined in order.

On the ocr queue, a PDF with more pages to OCR than `ocr_pages_per_task` is split: the parts
are written first, then one task is sent per part (ranges of text-layer pages only are read at
once, without a task). Each part OCRs its pages; the part that stores the last pages finishes
the document exactly as a whole read would (docflow.store.ocr_parts has the protocol).
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict

from celery import Task

from docflow import pipeline
from docflow.observability.documents import DocumentEnd, document_ended
from docflow.pipeline.extract.pdf import ocr_pdf_pages, page_ranges, scan_pdf
from docflow.pipeline.types import PageText
from docflow.store import documents as docs
from docflow.store import ocr_parts as parts
from docflow.worker.cancel import Interruption
from docflow.worker.celery_app import OCR_QUEUE, TASK_OCR_PART, app
from docflow.worker.dispatch import TaskRef
from docflow.worker.leases import LeaseKeeper, holder_gone, look_again_later
from docflow.worker.results import (
    Ending,
    ask_fields_of,
    claim_or_retry,
    classifiers,
    dispatcher,
    guarded,
    learned_fields,
    max_claims,
    save_result,
)
from docflow.worker.runtime import HOSTNAME, Runtime, runtime

log = logging.getLogger(__name__)


def split_for_ocr(rt: Runtime, doc_id: str, attempt: int, data: bytes, filename: str) -> bool:
    """Split a long scan into OCR parts and send them; False: read it in this task instead."""
    per_task = rt.settings.ocr_pages_per_task
    limits = rt.settings.limits
    if per_task < 1:
        return False
    detected = pipeline.detect(data, filename, limits)
    if detected.format != "pdf" or detected.encrypted:
        return False
    scan = scan_pdf(data, limits)
    if len(scan.ocr_page_numbers) <= per_task:
        return False
    ranges = page_ranges(scan, per_task)
    needing = set(scan.ocr_page_numbers)
    read = {(first, last): _rows(ocr_pdf_pages(data, first, last, limits))
            for first, last in ranges if needing.isdisjoint(range(first, last + 1))}
    with rt.store.db.write() as session:
        held = docs.held(session, doc_id, attempt)
        if held is None:
            return True  # taken over: the new holder decides
        todo = parts.split(session, held, ranges, read)
        refs = [TaskRef(doc_id, part.task_id, OCR_QUEUE, part_id=part.id) for part in todo]
    log.info("document %s: %d pages to OCR in %d parts", doc_id, len(needing), len(refs))
    if dispatcher(rt).send(refs) < len(refs):
        log.warning("document %s: OCR parts stay queued for the reconciler", doc_id)
    return True


def _rows(pages: list[PageText]) -> list[dict[str, object]]:
    return [asdict(page) for page in pages]


@app.task(bind=True, name=TASK_OCR_PART, acks_late=True, reject_on_worker_lost=True,
          max_retries=None)
def ocr_part(self: Task, part_id: str) -> str:
    rt = runtime()
    settings = rt.settings
    worker = self.request.hostname or HOSTNAME
    claim = claim_or_retry(self, rt, f"OCR part {part_id}", lambda session: parts.claim(
        session, part_id, worker=worker, host=HOSTNAME, pid=os.getpid(),
        lease_seconds=settings.lease_seconds, max_attempts=max_claims(self, settings),
        holder_gone=holder_gone(rt, session)))
    if claim.outcome is parts.PartOutcome.BUSY:
        look_again_later(self, part_id, claim.lease_until)
        return claim.outcome.value
    if claim.outcome not in (parts.PartOutcome.CLAIMED, parts.PartOutcome.STORED):
        return claim.outcome.value
    ending = Ending(
        what=f"OCR part {part_id} of document {claim.document_id}",
        # The part's reason fails its document, once (a second failing part finds it failed).
        fail=lambda code, message: _fail(rt, part_id, claim, code, message),
        release=lambda: _release(rt, part_id, claim),
        timeout_message=f"OCR of pages {claim.first_page}-{claim.last_page} took longer than "
        f"the limit of {settings.task_soft_time_limit} seconds; the pages may be too large or "
        "malformed.")
    return guarded(self, rt, ending, lambda: _read_and_finish(rt, part_id, claim, worker)) or (
        "failed")


def _read_and_finish(rt: Runtime, part_id: str, claim: parts.PartClaim, worker: str) -> str:
    doc_id, attempt = claim.document_id, claim.attempt
    data: bytes | None = None
    pages = None
    if claim.outcome is parts.PartOutcome.CLAIMED:
        data = rt.store.blobs.read(claim.sha256)
        reading = Interruption()
        with LeaseKeeper(rt, lambda session, seconds: parts.renew_lease(
                session, part_id, seconds), f"OCR part {part_id}", on_lost=reading.fire), \
                reading.point():
            pages = _rows(ocr_pdf_pages(data, claim.first_page, claim.last_page,
                                        rt.settings.limits))
    # Storing and deciding "was that the last part?" is one transaction with the document
    # locked, so of two parts ending together exactly one sees none left and finishes.
    with rt.store.db.write() as session:
        doc = parts.current_document(session, doc_id, attempt)
        if doc is None:
            return "obsolete"
        if pages is not None:
            parts.store_pages(session, part_id, pages)
        if parts.remaining(session, doc_id, attempt):
            return "stored"
        if not parts.take_finish(session, doc, worker=worker, host=HOSTNAME, pid=os.getpid(),
                                 lease_seconds=rt.settings.lease_seconds,
                                 holder_gone=holder_gone(rt, session)):
            return "stored"
        every_page = [PageText(**page) for page in parts.pages_of(session, doc_id, attempt)]
        tenant = doc.tenant_id
    with LeaseKeeper(rt, lambda session, seconds: docs.renew_lease(
            session, doc_id, attempt, seconds), f"document {doc_id}"):
        if data is None:
            data = rt.store.blobs.read(claim.sha256)
        classifier = classifiers.get(rt.store, rt.settings, tenant)
        result = pipeline.process_pdf_pages(data, claim.filename, every_page,
                                            rt.settings.limits, classifier=classifier,
                                            learned=learned_fields.get(rt.store, tenant),
                                            ask_fields=ask_fields_of(classifier, rt.settings))
        return save_result(rt, doc_id, attempt, claim.sha256, result)


def _fail(rt: Runtime, part_id: str, claim: parts.PartClaim, code: str, message: str) -> None:
    """The part's reason fails its document, once (a second failing part finds it failed)."""
    with rt.store.db.write() as session:
        doc = parts.current_document(session, claim.document_id, claim.attempt)
        if doc is not None:
            parts.fail_document(session, doc, code, message, part_id)
    if doc is not None:
        document_ended(rt.settings, DocumentEnd.failed(doc))




def _release(rt: Runtime, part_id: str, claim: parts.PartClaim) -> None:
    with rt.store.db.write() as session:
        doc = parts.current_document(session, claim.document_id, claim.attempt)
        if doc is not None:
            parts.release(session, part_id)
            parts.drop_finish(doc, HOSTNAME, os.getpid())
