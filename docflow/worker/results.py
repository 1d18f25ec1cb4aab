"""How a task ends a document: every result written in one transaction, or a reason to fail.

Shared by the document task and the OCR part that finishes a split document, so a document
read whole and one read in parts end in exactly the same rows.
"""

from __future__ import annotations

import errno
import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn, Protocol, TypeVar

import redis.exceptions
import sqlalchemy.exc
from billiard.exceptions import Terminated
from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.orm import Session

from docflow.config import Settings
from docflow.observability.documents import DocumentEnd, document_ended
from docflow.pipeline.classify.classifier import DocumentClassifier, needs_review
from docflow.pipeline.errors import DocumentError
from docflow.pipeline.fields.llm import AskJson
from docflow.pipeline.types import ProcessedDocument
from docflow.store import documents as docs
from docflow.store import ocr_parts as parts
from docflow.store.embeddings import passages_bytes, vector_bytes
from docflow.store.models import utcnow
from docflow.worker.cancel import Cancelled, Interruption
from docflow.worker.children import register_children, store_children
from docflow.worker.classifier import ClassifierCache
from docflow.worker.dispatch import Dispatcher, TaskRef
from docflow.worker.learned_fields import LearnedFieldsCache
from docflow.worker.memory import MemoryGuard, TimeLimits, too_large_message
from docflow.worker.runtime import Runtime

log = logging.getLogger(__name__)
C = TypeVar("C")

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    BrokerError,
)

classifiers = ClassifierCache()
learned_fields = LearnedFieldsCache()
_dispatchers: dict[int, Dispatcher] = {}


def ask_fields_of(classifier: DocumentClassifier, settings: Settings) -> AskJson | None:
    """The language model to ask for missing fields, when one is set up and DOCFLOW_LLM_FIELDS
    asks for it."""
    return classifier.llm.ask_json if classifier.llm and settings.llm_fields else None


def dispatcher(rt: Runtime) -> Dispatcher:
    return _dispatchers.setdefault(rt.pid, Dispatcher(rt.settings))


class SameTransaction(Protocol):
    """More work for the transaction that ends a document: the claim of the next document of
    its task (worker/groups.py), so that a document costs one commit, not two."""

    def write(self, session: Session) -> None:
        """Last in the ending's transaction; an error here rolls the ending back too."""

    def committed(self) -> None:
        """The transaction that `write` joined has committed."""


@contextmanager
def ending_transaction(rt: Runtime, also: SameTransaction | None) -> Iterator[Session]:
    """A write transaction that ends a document, and with `also` does that work too."""
    with rt.store.db.write() as session:
        yield session
        if also is not None:
            also.write(session)
    if also is not None:
        also.committed()


def save_result(rt: Runtime, doc_id: str, attempt: int, sha256: str,
                result: ProcessedDocument, also: SameTransaction | None = None) -> str:
    """Write the document's results and mark it completed, if this attempt still holds it."""
    extracted = result.extracted
    children = store_children(rt.store.blobs, doc_id, result.children,
                              rt.settings.max_file_bytes)
    with ending_transaction(rt, also) as session:
        held = docs.held(session, doc_id, attempt)
        if held is None:
            log.warning("document %s: claim %d was taken over; result dropped", doc_id, attempt)
            return "dropped"
        docs.save_extraction(session, sha256, format=result.detected.format,
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
        held.passages = passages_bytes(result.passages) if result.passages is not None else None
        docs.set_warnings(held, [vars(w) for w in result.warnings])
        held.status = docs.DocumentStatus.COMPLETED
        held.error_code = held.error_message = None
        held.finished_at = utcnow()
        held.lease_until = None
        held.ocr_parts = None
        held.indexed = False
        child_tasks = register_children(session, held, children, rt.settings.max_file_bytes)
    document_ended(rt.settings, DocumentEnd.completed(held, result))
    send_children(rt, doc_id, child_tasks)
    return "processed"


def send_children(rt: Runtime, doc_id: str, child_tasks: list[TaskRef]) -> None:
    if child_tasks and not dispatcher(rt).send(child_tasks):
        log.warning("document %s: %d child documents stay queued for the reconciler", doc_id,
                    len(child_tasks))


def fail(rt: Runtime, doc_id: str, attempt: int, code: str, message: str,
         also: SameTransaction | None = None) -> None:
    """Fail the document with its reason, once: a later attempt or a second failure is a no-op."""
    with ending_transaction(rt, also) as session:
        held = docs.held(session, doc_id, attempt)
        if held is not None:
            parts.fail_document(session, held, code, message)
    if held is not None:
        document_ended(rt.settings, DocumentEnd.failed(held))


@dataclass(frozen=True)
class Ending:
    """How a task gives up its work: fail it with a reason, or give it back untouched."""

    what: str  # "document <id>" or "OCR part <id>", for the logs
    fail: Callable[[str, str], None]  # (code, message): fail it once, with this reason
    release: Callable[[], None]  # back to the queue, for a retry or the reconciler
    timeout_message: str


def guarded(task: Task, rt: Runtime, ending: Ending, work: Callable[[], str],
            time_limits: TimeLimits | None = None) -> str | None:
    """Run a task's `work` under the task policy (DESIGN.md): a bad document or the time limit
    fails it with its reason, transient errors are retried with backoff, a task stopped from
    outside gives its work back, anything else fails it, never the worker.

    Past `max_document_memory_mb` of resident memory the work is failed as too_large and the
    process ends (worker/memory.py); Celery's pool replaces it. `time_limits`: the work's own,
    where Celery's (per task) are not its own (a task that carries several documents).

    Returns what `work` returned, "terminated", or None when the work failed.
    """
    limit = rt.settings.max_document_memory_mb
    try:
        with MemoryGuard(limit, lambda _: ending.fail("too_large", too_large_message(limit)),
                         limits=time_limits):
            return work()
    except SoftTimeLimitExceeded:
        ending.fail("timeout", ending.timeout_message)
    except Cancelled:  # the claim is gone (a user cancelled it): nothing to write
        log.info("%s: stopped, its claim is gone", ending.what)
        return "cancelled"
    except Retry:
        raise
    except Exception as exc:
        if caused_by_full_disk(exc):
            _wait_for_space(task, rt, ending, exc)
        return _ended(task, rt, ending, exc)
    return None


def document_time_limits(rt: Runtime, ending: Ending, reading: Interruption) -> TimeLimits:
    """A document's own soft and hard time limits, with the same outcome as Celery's for a task
    of its own: interrupted and failed as timeout; past the hard limit failed, process ended."""
    settings = rt.settings
    return TimeLimits(settings.task_soft_time_limit,
                      lambda: reading.fire(SoftTimeLimitExceeded),
                      settings.task_time_limit,
                      lambda: ending.fail("timeout", ending.timeout_message))


def _ended(task: Task, rt: Runtime, ending: Ending, exc: Exception) -> str | None:
    """`guarded`'s policy for an error other than the time limit or a full disk."""
    if isinstance(exc, DocumentError):
        # A reader that wraps every library error also wraps the time limit's interrupt.
        if caused_by(exc, SoftTimeLimitExceeded):
            ending.fail("timeout", ending.timeout_message)
        else:
            ending.fail(exc.code, exc.message)
    elif isinstance(exc, TRANSIENT_ERRORS):
        _retry_or_fail(task, rt, ending, exc)
    elif caused_by(exc, Terminated):
        # Someone stopped this task (a revoke with terminate, a pool shutting down); the
        # work did nothing wrong: give it back for the reconciler to send again.
        log.warning("%s: task terminated; it goes back to the queue", ending.what)
        ending.release()
        return "terminated"
    else:
        log.exception("%s failed unexpectedly", ending.what, exc_info=exc)
        ending.fail("internal_error", f"An unexpected error stopped processing "
                    f"({type(exc).__name__}: {exc}).")
    return None


def _wait_for_space(task: Task, rt: Runtime, ending: Ending, exc: Exception) -> NoReturn:
    """A full disk is nothing the document did: give it back and try again after a capped
    backoff, for as long as it takes (never failed as corrupt, never out of retries)."""
    log.warning("%s: no space left on the disk (%s); it waits and is tried again", ending.what,
                exc)
    try:
        ending.release()
    except Exception:  # the database's disk may be the full one: its lease runs out instead
        log.warning("%s: could not give it back; its lease will run out", ending.what,
                    exc_info=True)
    _send_again(task, rt, exc, cap=rt.settings.restart_backoff_max_seconds, forever=True)


def max_claims(task: Task, settings: Settings) -> int:
    """How many claims a document (or part) may have had when this task claims it.

    Each retry after a transient error claims again; those claims are not interruptions, so
    they do not use up the `max_attempts` a document gets against dying workers.
    """
    return settings.max_attempts + (task.request.retries or 0)


def claim_or_retry(task: Task, rt: Runtime, what: str, take: Callable[[Session], C]) -> C:
    """Claim the work in one write transaction (`take`); a transient error there (the database
    dropped the connection) sends the task again after a backoff, like one met while working.
    Out of retries, the error ends the task and the reconciler sends the work again later."""
    try:
        with rt.store.db.write() as session:
            return take(session)
    except TRANSIENT_ERRORS as exc:
        if task.request.retries >= rt.settings.task_max_retries:
            raise
        log.warning("%s: transient %s while claiming it, retrying", what, type(exc).__name__)
        _send_again(task, rt, exc)


def _retry_or_fail(task: Task, rt: Runtime, ending: Ending, exc: BaseException) -> None:
    retries = task.request.retries
    if retries >= rt.settings.task_max_retries:
        ending.fail("transient_error", f"Gave up after {retries + 1} tries; the last error was "
                    f"{type(exc).__name__}: {exc}")
        return
    log.warning("%s: transient %s, retrying", ending.what, type(exc).__name__)
    ending.release()
    _send_again(task, rt, exc)


def _send_again(task: Task, rt: Runtime, exc: BaseException, *, cap: float | None = None,
                forever: bool = False) -> NoReturn:
    # Exponential backoff with jitter, so many workers hitting one outage do not return at once.
    countdown = (rt.settings.task_retry_backoff * (2 ** min(task.request.retries, 16))
                 * random.uniform(0.5, 1.5))
    if cap is not None:
        countdown = min(countdown, cap)
    raise task.retry(exc=exc, countdown=countdown,
                     max_retries=None if forever else rt.settings.task_max_retries)


def caused_by_full_disk(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it, e.g. a reader wrapping it as corrupt) is a full disk."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, OSError) and cur.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "database or disk is full" in str(cur):  # SQLite's SQLITE_FULL
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, kind):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False
