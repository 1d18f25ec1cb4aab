"""The document task: claim, run the pipeline, write every result in one transaction.

Bad documents fail at once with their reason; transient errors (I/O, database, broker) are
retried with exponential backoff and jitter; anything else fails the document, never the worker.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace

from celery import Task

from docflow import pipeline
from docflow.pipeline.classify.trained import NotEnoughLabels
from docflow.pipeline.errors import OcrDeferred
from docflow.store import Document
from docflow.store import documents as docs
from docflow.store.models import utcnow
from docflow.worker import ocr_parts
from docflow.worker.cancel import Interruption
from docflow.worker.celery_app import (
    DEFAULT_QUEUE,
    OCR_QUEUE,
    TASK_PROCESS_DOCUMENT,
    TASK_TRAIN_CLASSIFIER,
    app,
)
from docflow.worker.children import copy_children
from docflow.worker.dispatch import TaskRef
from docflow.worker.leases import LeaseKeeper, holder_gone, look_again_later
from docflow.worker.results import (
    Ending,
    ask_fields_of,
    claim_or_retry,
    classifiers,
    dispatcher,
    fail,
    guarded,
    learned_fields,
    max_claims,
    save_result,
    send_children,
)
from docflow.worker.runtime import HOSTNAME, Runtime, runtime
from docflow.worker.training import train_classifier

log = logging.getLogger(__name__)


@app.task(bind=True, name=TASK_PROCESS_DOCUMENT, acks_late=True, reject_on_worker_lost=True,
          max_retries=None)
def process_document(self: Task, document_id: str) -> str:
    rt = runtime()
    settings = rt.settings
    claim = claim_or_retry(self, rt, f"document {document_id}", lambda session: docs.claim(
        session, document_id, worker=self.request.hostname or HOSTNAME, host=HOSTNAME,
        pid=os.getpid(), lease_seconds=settings.lease_seconds,
        max_attempts=max_claims(self, settings), holder_gone=holder_gone(rt, session)))
    if claim.outcome is docs.ClaimOutcome.BUSY:
        look_again_later(self, document_id, claim.lease_until)
        return claim.outcome.value
    if claim.outcome is docs.ClaimOutcome.TWIN_BUSY:
        look_again_later(self, document_id, claim.lease_until,
                         why="its bytes are being processed for another document; it will "
                         "take that result")
        return claim.outcome.value
    if claim.outcome is not docs.ClaimOutcome.CLAIMED:
        return claim.outcome.value

    queue = (self.request.delivery_info or {}).get("routing_key") or DEFAULT_QUEUE
    attempt = claim.attempt
    ending = Ending(
        what=f"document {document_id}",
        fail=lambda code, message: fail(rt, document_id, attempt, code, message),
        release=lambda: _release(rt, document_id, attempt),
        timeout_message=f"Processing took longer than the limit of "
        f"{settings.task_soft_time_limit} seconds; the document may be too long or malformed.")
    reading = Interruption()
    with LeaseKeeper(rt, lambda session, seconds: docs.renew_lease(
            session, document_id, attempt, seconds), f"document {document_id}",
            on_lost=reading.fire):
        outcome = guarded(self, rt, ending,
                          lambda: _process(rt, document_id, attempt, queue, reading))
    return _OUTCOMES.get(outcome or "", "processed")


# What the task answers (seen in Celery's logs) for the outcomes that are not "processed".
_OUTCOMES = {"moved": "moved to the ocr queue", "split": "split into OCR parts",
             "terminated": "terminated", "cancelled": "cancelled"}


def _process(rt: Runtime, doc_id: str, attempt: int, queue: str,
             reading: Interruption | None = None) -> str:
    with rt.store.db.read() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        sha, filename = doc.sha256, doc.filename
        twin = docs.find_completed_twin(session, sha, doc_id)
    if twin is not None:
        child_tasks: list[TaskRef] = []
        with rt.store.db.write() as session:
            held = docs.held(session, doc_id, attempt)
            if held is not None:
                docs.copy_result(twin, held, utcnow())
                child_tasks = copy_children(session, twin, held, rt.settings.max_file_bytes)
        send_children(rt, doc_id, child_tasks)
        return "reused"

    data = rt.store.blobs.read(sha)
    limits = rt.settings.limits
    if queue == OCR_QUEUE and ocr_parts.split_for_ocr(rt, doc_id, attempt, data, filename):
        return "split"
    if queue != OCR_QUEUE:  # light queue: a document that needs OCR goes to the ocr queue
        limits = replace(limits, ocr=replace(limits.ocr, enabled=False))
    classifier = classifiers.get(rt.store, rt.settings)
    try:
        with (reading or Interruption()).point():
            result = pipeline.process_document(data, filename, limits, classifier=classifier,
                                               learned=learned_fields.get(rt.store),
                                               ask_fields=ask_fields_of(classifier, rt.settings))
    except OcrDeferred:
        _move_to_ocr_queue(rt, doc_id, attempt)
        return "moved"
    return save_result(rt, doc_id, attempt, sha, result)


def _move_to_ocr_queue(rt: Runtime, doc_id: str, attempt: int) -> None:
    """Give the document back and send it to the heavy queue (the row first, as always)."""
    with rt.store.db.write() as session:
        held = docs.held(session, doc_id, attempt)
        if held is None:
            return
        held.attempts -= 1  # moving queues is not an attempt at the document
        docs.release(held)
        ref = TaskRef(held.id, held.task_id, OCR_QUEUE)
    if not dispatcher(rt).send([ref]):
        log.warning("document %s stays queued for the reconciler", doc_id)



def _release(rt: Runtime, doc_id: str, attempt: int) -> None:
    with rt.store.db.write() as session:
        held = docs.held(session, doc_id, attempt)
        if held is not None:
            docs.release(held)


@app.task(name=TASK_TRAIN_CLASSIFIER, acks_late=True)
def train() -> str:
    """Train the classifier on every label; the housekeeper sends this after enough new ones."""
    rt = runtime()
    try:
        result = train_classifier(rt.store, rt.settings)
    except NotEnoughLabels as exc:
        log.info("classifier not trained: %s", exc)
        return "not enough labels"
    log.info("classifier %s trained on %d documents", result.version, result.trained_on)
    return result.version
