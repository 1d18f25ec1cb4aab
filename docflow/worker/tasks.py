"""The document task: claim, run the pipeline, write every result in one transaction.

Bad documents fail at once with their reason; transient errors (I/O, database, broker) are
retried with exponential backoff and jitter; anything else fails the document, never the worker.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace

from celery import Task, signals
from sqlalchemy.orm import Session

from docflow import pipeline
from docflow.pipeline.classify.trained import NotEnoughLabels
from docflow.pipeline.errors import OcrDeferred
from docflow.store import Document
from docflow.store import documents as docs
from docflow.store.models import utcnow
from docflow.store.scope import DEFAULT_TENANT
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
    SameTransaction,
    ask_fields_of,
    claim_or_retry,
    classifiers,
    dispatcher,
    document_time_limits,
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
    queue = (self.request.delivery_info or {}).get("routing_key") or DEFAULT_QUEUE
    return process_one(self, runtime(), document_id, queue)


def process_one(task: Task, rt: Runtime, document_id: str, queue: str, *,
                own_time_limits: bool = False, claimed: docs.Claim | None = None,
                also: SameTransaction | None = None) -> str:
    """Claim one document, read it and end it. `task` is its task, or the stand-in for one
    document of a task that carries several (worker/groups.py: retries and messages of its
    own; with `own_time_limits`, time limits of its own too; `claimed`: its claim, already
    taken in the transaction that ended the document before it; `also`: more work for the
    transaction that ends this one, the claim of the next)."""
    settings = rt.settings
    claim = claimed or claim_or_retry(task, rt, f"document {document_id}",
                                      lambda session: take_claim(task, rt, session, document_id))
    if claim.outcome is docs.ClaimOutcome.BUSY:
        look_again_later(task, document_id, claim.lease_until)
        return claim.outcome.value
    if claim.outcome is docs.ClaimOutcome.TWIN_BUSY:
        look_again_later(task, document_id, claim.lease_until,
                         why="its bytes are being processed for another document; it will "
                         "take that result")
        return claim.outcome.value
    if claim.outcome is not docs.ClaimOutcome.CLAIMED:
        return claim.outcome.value

    attempt = claim.attempt
    ending = Ending(
        what=f"document {document_id}",
        fail=lambda code, message: fail(rt, document_id, attempt, code, message, also),
        release=lambda: _release(rt, document_id, attempt),
        timeout_message=f"Processing took longer than the limit of "
        f"{settings.task_soft_time_limit} seconds; the document may be too long or malformed.")
    reading = Interruption()
    limits = document_time_limits(rt, ending, reading) if own_time_limits else None
    with LeaseKeeper(rt, lambda session, seconds: docs.renew_lease(
            session, document_id, attempt, seconds), f"document {document_id}",
            on_lost=reading.fire):
        outcome = guarded(task, rt, ending, lambda: _process(rt, document_id, claim, queue,
                                                             reading, also), limits)
    return _OUTCOMES.get(outcome or "", "processed")


def take_claim(task: Task, rt: Runtime, session: Session, document_id: str) -> docs.Claim:
    """Claim the document in `session` for this process, as `task`'s work."""
    settings = rt.settings
    return docs.claim(session, document_id, worker=task.request.hostname or HOSTNAME,
                      host=HOSTNAME, pid=os.getpid(), lease_seconds=settings.lease_seconds,
                      max_attempts=max_claims(task, settings),
                      holder_gone=holder_gone(rt, session))


# What the task answers (seen in Celery's logs) for the outcomes that are not "processed".
_OUTCOMES = {"moved": "moved to the ocr queue", "split": "split into OCR parts",
             "terminated": "terminated", "cancelled": "cancelled"}


def _process(rt: Runtime, doc_id: str, claim: docs.Claim | int, queue: str,
             reading: Interruption | None = None, also: SameTransaction | None = None) -> str:
    """Read the claimed document and end it. `claim` is what the claim read, or only its
    attempt number (then the rest is read here)."""
    if isinstance(claim, int):
        claim = _claimed(rt, doc_id, claim)
    # The claim's transaction read what this needs: a document costs two transactions, the
    # claim and its result, and one in a task of several, whose result's transaction claims
    # the next (tests/worker/test_transactions.py).
    attempt, sha, filename = claim.attempt, claim.sha256, claim.filename
    if claim.twin_id is not None:
        child_tasks: list[TaskRef] = []
        joined = False
        with rt.store.db.write() as session:
            held = docs.held(session, doc_id, attempt)
            twin = session.get(Document, claim.twin_id)
            if held is not None and twin is not None:
                docs.copy_result(twin, held, utcnow())
                child_tasks = copy_children(session, twin, held, rt.settings.max_file_bytes)
                if also is not None:
                    also.write(session)
                    joined = True
            elif held is not None:  # the twin went away since the claim: read it after all
                claim = replace(claim, twin_id=None)
        if claim.twin_id is not None:
            if also is not None and joined:
                also.committed()
            send_children(rt, doc_id, child_tasks)
            return "reused"

    data = rt.store.blobs.read(sha)
    limits = rt.settings.limits
    if queue == OCR_QUEUE and ocr_parts.split_for_ocr(rt, doc_id, attempt, data, filename):
        return "split"
    if queue != OCR_QUEUE:  # light queue: a document that needs OCR goes to the ocr queue
        limits = replace(limits, ocr=replace(limits.ocr, enabled=False))
    # The document's tenant's types, model and hints: the worker acts for no tenant itself.
    classifier = classifiers.get(rt.store, rt.settings, claim.tenant_id)
    try:
        with (reading or Interruption()).point():
            result = pipeline.process_document(data, filename, limits, classifier=classifier,
                                               learned=learned_fields.get(rt.store,
                                                                          claim.tenant_id),
                                               ask_fields=ask_fields_of(classifier, rt.settings))
    except OcrDeferred:
        _move_to_ocr_queue(rt, doc_id, attempt)
        return "moved"
    return save_result(rt, doc_id, attempt, sha, result, also)


def _claimed(rt: Runtime, doc_id: str, attempt: int) -> docs.Claim:
    with rt.store.db.read() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        twin = docs.find_completed_twin(session, doc.sha256, doc_id)
        return docs.Claim(docs.ClaimOutcome.CLAIMED, attempt=attempt, sha256=doc.sha256,
                          filename=doc.filename, twin_id=twin.id if twin is not None else None,
                          tenant_id=doc.tenant_id)


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


# Read once in the worker's main process (worker_init), so that each pool process forked from it
# finds the readers' lazy imports, compiled patterns and language data already loaded.
_WARM_UP_TEXT = ("INVOICE  Invoice number 2024-77  Date: 30 April 2024\nTotal due: $1,250.00 "
                 "(EUR 1.150,00) by 2024-04-30. IBAN DE89 3704 0044 0532 0130 00, "
                 "VAT DE136695976. Questions: billing@acme.example.com, +1 212 555 0100.")


def warm_up(rt: Runtime) -> None:
    """Load what every pool process would otherwise load on its first document: the pipeline's
    libraries and data (a text and a PDF read through it) and, unless it holds a connection or
    threads that must not cross a fork (a language model, the embedding model), the classifier.
    """
    from docflow.demo import make_pdf

    limits = replace(rt.settings.limits, ocr=replace(rt.settings.limits.ocr, enabled=False))
    samples = [(_WARM_UP_TEXT.encode(), "warm-up.txt"),
               (make_pdf([_WARM_UP_TEXT, "Page two"]), "warm-up.pdf")]
    for data, name in samples:
        try:
            pipeline.process_document(data, name, limits)
        except Exception:  # a warm-up is an optimisation: pool processes load it themselves
            log.warning("warming up on %s failed", name, exc_info=True)
    if rt.settings.zero_shot:  # the modules only: an ONNX session's threads stay per process
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    if rt.settings.llm is None and not rt.settings.zero_shot:
        try:
            classifiers.get(rt.store, rt.settings)
            learned_fields.get(rt.store)
        except Exception:
            log.warning("loading the classifier before forking failed", exc_info=True)


@signals.worker_init.connect
def _warm_up_before_forking(**_: object) -> None:
    rt = runtime()
    if rt.settings.worker_warm_up:
        warm_up(rt)


@app.task(name=TASK_TRAIN_CLASSIFIER, acks_late=True)
def train(tenant: str = DEFAULT_TENANT) -> str:
    """Train `tenant`'s classifier on its labels; the housekeeper sends this after enough new
    ones (a message from before tenants had models names none: the default tenant's)."""
    rt = runtime()
    try:
        result = train_classifier(rt.store, rt.settings, tenant)
    except NotEnoughLabels as exc:
        log.info("classifier of tenant %s not trained: %s", tenant, exc)
        return "not enough labels"
    log.info("classifier %s of tenant %s trained on %d documents", result.version, tenant,
             result.trained_on)
    return result.version
