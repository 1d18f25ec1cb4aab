"""The document task: claim, run the pipeline, write every result in one transaction.

Bad documents fail at once with their reason; transient errors (I/O, database, broker) are
retried with exponential backoff and jitter; anything else fails the document, never the worker.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import replace

from billiard.exceptions import Terminated
from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded

from docflow import pipeline
from docflow.pipeline.classify.trained import NotEnoughLabels
from docflow.pipeline.errors import DocumentError, OcrDeferred
from docflow.store import Document
from docflow.store import documents as docs
from docflow.store.models import utcnow
from docflow.worker import ocr_parts
from docflow.worker.celery_app import (
    DEFAULT_QUEUE,
    OCR_QUEUE,
    TASK_PROCESS_DOCUMENT,
    TASK_TRAIN_CLASSIFIER,
    app,
)
from docflow.worker.children import copy_children
from docflow.worker.dispatch import TaskRef
from docflow.worker.leases import LeaseKeeper, holder_gone
from docflow.worker.results import (
    TRANSIENT_ERRORS,
    ask_fields_of,
    caused_by,
    classifiers,
    dispatcher,
    fail,
    fail_timeout,
    learned_fields,
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
    with rt.store.db.write() as session:
        claim = docs.claim(session, document_id, worker=self.request.hostname or HOSTNAME,
                           host=HOSTNAME, pid=os.getpid(), lease_seconds=settings.lease_seconds,
                           max_attempts=settings.max_attempts,
                           holder_gone=holder_gone(rt, session))
    if claim.outcome is docs.ClaimOutcome.BUSY:
        # Another live worker has it: look again once its lease would have run out.
        assert claim.lease_until is not None
        wait = max(1.0, (claim.lease_until - utcnow()).total_seconds() + 1)
        log.info("document %s is held by a live worker (a redelivered or repeated message); "
                 "looking again in %.0fs", document_id, wait)
        self.apply_async(args=[document_id], task_id=self.request.id, countdown=wait)
        return claim.outcome.value
    if claim.outcome is not docs.ClaimOutcome.CLAIMED:
        return claim.outcome.value

    queue = (self.request.delivery_info or {}).get("routing_key") or DEFAULT_QUEUE
    attempt = claim.attempt
    with LeaseKeeper(rt, lambda session, seconds: docs.renew_lease(
            session, document_id, attempt, seconds), f"document {document_id}"):
        try:
            outcome = _process(rt, document_id, attempt, queue)
            if outcome == "moved":
                return "moved to the ocr queue"
            if outcome == "split":
                return "split into OCR parts"
        except SoftTimeLimitExceeded:
            fail_timeout(rt, document_id, attempt)
        except DocumentError as exc:
            # A reader that wraps every library error also wraps the time limit's interrupt.
            if caused_by(exc, SoftTimeLimitExceeded):
                fail_timeout(rt, document_id, attempt)
            else:
                fail(rt, document_id, attempt, exc.code, exc.message)
        except Retry:
            raise
        except TRANSIENT_ERRORS as exc:
            _retry_or_fail(self, rt, document_id, attempt, exc)
        except Exception as exc:
            if caused_by(exc, Terminated):
                # Someone stopped this task (a revoke with terminate, a pool shutting down); the
                # document did nothing wrong: give it back for the reconciler to send again.
                log.warning("document %s: task terminated; the document goes back to the queue",
                            document_id)
                _release(rt, document_id, attempt)
                return "terminated"
            log.exception("document %s failed unexpectedly", document_id)
            fail(rt, document_id, attempt, "internal_error",
                 f"An unexpected error stopped processing ({type(exc).__name__}: {exc}).")
    return "processed"


def _process(rt: Runtime, doc_id: str, attempt: int, queue: str) -> str:
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


def _retry_or_fail(task: Task, rt: Runtime, doc_id: str, attempt: int,
                   exc: BaseException) -> None:
    retries = task.request.retries
    if retries >= rt.settings.task_max_retries:
        fail(rt, doc_id, attempt, "transient_error",
             f"Gave up after {retries + 1} tries; the last error was "
             f"{type(exc).__name__}: {exc}")
        return
    log.warning("document %s: transient %s, retrying", doc_id, type(exc).__name__)
    _release(rt, doc_id, attempt)
    # Exponential backoff with jitter, so many workers hitting one outage do not return at once.
    countdown = rt.settings.task_retry_backoff * (2 ** retries) * random.uniform(0.5, 1.5)
    raise task.retry(exc=exc, countdown=countdown, max_retries=rt.settings.task_max_retries)


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
