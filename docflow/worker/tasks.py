"""The document task: claim, run the pipeline, write every result in one transaction.

Bad documents fail at once with their reason; transient errors (I/O, database, broker) are
retried with exponential backoff and jitter; anything else fails the document, never the worker.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable
from dataclasses import replace

import psutil
import redis.exceptions
import sqlalchemy.exc
from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.orm import Session

from docflow import pipeline
from docflow.pipeline.classify.classifier import needs_review
from docflow.pipeline.classify.trained import NotEnoughLabels
from docflow.pipeline.errors import DocumentError, OcrDeferred
from docflow.store import Document
from docflow.store import documents as docs
from docflow.store.embeddings import vector_bytes
from docflow.store.models import utcnow
from docflow.store.workers import stale_worker_names
from docflow.worker.celery_app import (
    DEFAULT_QUEUE,
    OCR_QUEUE,
    TASK_PROCESS_DOCUMENT,
    TASK_TRAIN_CLASSIFIER,
    app,
)
from docflow.worker.children import register_children, store_children
from docflow.worker.classifier import ClassifierCache
from docflow.worker.dispatch import Dispatcher, TaskRef
from docflow.worker.runtime import HOSTNAME, Runtime, runtime
from docflow.worker.training import train_classifier

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    BrokerError,
)


class LeaseKeeper:
    """Renews a document's lease while it is being processed, from a background thread."""

    def __init__(self, rt: Runtime, doc_id: str, attempt: int) -> None:
        self._rt, self._doc_id, self._attempt = rt, doc_id, attempt
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        seconds = self._rt.settings.lease_seconds
        while not self._stop.wait(seconds / 3):
            try:
                with self._rt.store.db.write() as session:
                    if not docs.renew_lease(session, self._doc_id, self._attempt, seconds):
                        return
            except Exception:  # a missed renewal is retried; the lease has slack for two
                log.warning("could not renew the lease of %s", self._doc_id, exc_info=True)


def _holder_gone(rt: Runtime, session: Session) -> Callable[[Document], bool]:
    """Tell whether the worker holding a lease is dead, so its document need not wait."""
    stale: set[str] | None = None

    def check(doc: Document) -> bool:
        nonlocal stale
        # This process is free to run a task, so an earlier claim of ours is over.
        if doc.worker_host == HOSTNAME and doc.worker_pid and (
                doc.worker_pid == os.getpid() or not psutil.pid_exists(doc.worker_pid)):
            return True
        if stale is None:
            stale = stale_worker_names(session, rt.settings.worker_stale_seconds)
        return doc.worker in stale

    return check


@app.task(bind=True, name=TASK_PROCESS_DOCUMENT, acks_late=True, reject_on_worker_lost=True,
          max_retries=None)
def process_document(self: Task, document_id: str) -> str:
    rt = runtime()
    settings = rt.settings
    with rt.store.db.write() as session:
        claim = docs.claim(session, document_id, worker=self.request.hostname or HOSTNAME,
                           host=HOSTNAME, pid=os.getpid(), lease_seconds=settings.lease_seconds,
                           max_attempts=settings.max_attempts,
                           holder_gone=_holder_gone(rt, session))
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
    with LeaseKeeper(rt, document_id, claim.attempt):
        try:
            if _process(rt, document_id, claim.attempt, queue) == "moved":
                return "moved to the ocr queue"
        except SoftTimeLimitExceeded:
            _fail_timeout(rt, document_id, claim.attempt)
        except DocumentError as exc:
            # A reader that wraps every library error also wraps the time limit's interrupt.
            if _caused_by(exc, SoftTimeLimitExceeded):
                _fail_timeout(rt, document_id, claim.attempt)
            else:
                _fail(rt, document_id, claim.attempt, exc.code, exc.message)
        except Retry:
            raise
        except TRANSIENT_ERRORS as exc:
            _retry_or_fail(self, rt, document_id, claim.attempt, exc)
        except Exception as exc:
            log.exception("document %s failed unexpectedly", document_id)
            _fail(rt, document_id, claim.attempt, "internal_error",
                  f"An unexpected error stopped processing ({type(exc).__name__}: {exc}).")
    return "processed"


def _process(rt: Runtime, doc_id: str, attempt: int, queue: str) -> str:
    with rt.store.db.read() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        sha, filename = doc.sha256, doc.filename
        twin = docs.find_completed_twin(session, sha, doc_id)
    if twin is not None:
        with rt.store.db.write() as session:
            held = docs.held(session, doc_id, attempt)
            if held is not None:
                docs.copy_result(twin, held, utcnow())
        return "reused"

    data = rt.store.blobs.read(sha)
    limits = rt.settings.limits
    if queue != OCR_QUEUE:  # light queue: a document that needs OCR goes to the ocr queue
        limits = replace(limits, ocr=replace(limits.ocr, enabled=False))
    classifier = _classifiers.get(rt.store, rt.settings)
    ask_fields = classifier.llm.ask_json if classifier.llm and rt.settings.llm_fields else None
    try:
        result = pipeline.process_document(data, filename, limits, classifier=classifier,
                                           ask_fields=ask_fields)
    except OcrDeferred:
        _move_to_ocr_queue(rt, doc_id, attempt)
        return "moved"
    extracted = result.extracted
    children = store_children(rt.store.blobs, doc_id, result.children,
                              rt.settings.max_file_bytes)
    with rt.store.db.write() as session:
        held = docs.held(session, doc_id, attempt)
        if held is None:
            log.warning("document %s: claim %d was taken over; result dropped", doc_id, attempt)
            return "dropped"
        docs.save_extraction(session, sha, format=result.detected.format,
                             mime_type=result.detected.mime_type, text=extracted.text,
                             pages=extracted.pages, page_count=extracted.page_count)
        held.format = result.detected.format
        held.mime_type = result.detected.mime_type
        held.page_count = extracted.page_count
        held.doc_type = result.classification.doc_type
        held.doc_type_confidence = result.classification.confidence
        held.classifier = result.classification.decider
        held.model_version = result.classification.model_version
        held.needs_review = needs_review(result.classification, rt.settings.review_below)
        held.fields = [vars(f) for f in result.fields]
        held.embedding = (vector_bytes(result.embedding)
                          if result.embedding is not None else None)
        held.embedding_model = result.embedding_model
        held.status = docs.DocumentStatus.COMPLETED
        held.error_code = held.error_message = None
        held.finished_at = utcnow()
        held.lease_until = None
        held.indexed = False
        child_tasks = register_children(session, held, children, rt.settings.max_file_bytes)
    if child_tasks and not _dispatcher(rt).send(child_tasks):
        log.warning("document %s: %d child documents stay queued for the reconciler", doc_id,
                    len(child_tasks))
    return "processed"


def _move_to_ocr_queue(rt: Runtime, doc_id: str, attempt: int) -> None:
    """Give the document back and send it to the heavy queue (the row first, as always)."""
    with rt.store.db.write() as session:
        held = docs.held(session, doc_id, attempt)
        if held is None:
            return
        held.attempts -= 1  # moving queues is not an attempt at the document
        docs.release(held)
        ref = TaskRef(held.id, held.task_id, OCR_QUEUE)
    if not _dispatcher(rt).send([ref]):
        log.warning("document %s stays queued for the reconciler", doc_id)


_dispatchers: dict[int, Dispatcher] = {}
_classifiers = ClassifierCache()


def _dispatcher(rt: Runtime) -> Dispatcher:
    return _dispatchers.setdefault(rt.pid, Dispatcher(rt.settings))


def _fail(rt: Runtime, doc_id: str, attempt: int, code: str, message: str) -> None:
    with rt.store.db.write() as session:
        held = docs.held(session, doc_id, attempt)
        if held is not None:
            docs.mark_failed(held, code, message)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, kind):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def _fail_timeout(rt: Runtime, doc_id: str, attempt: int) -> None:
    _fail(rt, doc_id, attempt, "timeout", f"Processing took longer than the limit of "
          f"{rt.settings.task_soft_time_limit} seconds; the document may be too long or "
          "malformed.")


def _retry_or_fail(task: Task, rt: Runtime, doc_id: str, attempt: int,
                   exc: BaseException) -> None:
    retries = task.request.retries
    if retries >= rt.settings.task_max_retries:
        _fail(rt, doc_id, attempt, "transient_error",
              f"Gave up after {retries + 1} tries; the last error was "
              f"{type(exc).__name__}: {exc}")
        return
    log.warning("document %s: transient %s, retrying", doc_id, type(exc).__name__)
    with rt.store.db.write() as session:
        held = docs.held(session, doc_id, attempt)
        if held is not None:
            docs.release(held)
    # Exponential backoff with jitter, so many workers hitting one outage do not return at once.
    countdown = rt.settings.task_retry_backoff * (2 ** retries) * random.uniform(0.5, 1.5)
    raise task.retry(exc=exc, countdown=countdown, max_retries=rt.settings.task_max_retries)




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
