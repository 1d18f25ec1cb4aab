"""The reconciler: documents whose lease ran out or whose message was lost are sent again, and
so are the OCR parts of split documents (store.ocr_parts), by the same two rules. Messages a
dead worker had taken (prefetched or running) go back to their queue at once, instead of after
the broker's visibility timeout (worker/unacked.py).

Resending is always safe: a task that finds its document finished, or held by a live worker,
does nothing, so a duplicate message costs one cheap claim and never a second result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from docflow.config import Settings
from docflow.store import Document, DocumentStatus, Store
from docflow.store import ocr_parts as parts
from docflow.store.documents import release
from docflow.store.models import OcrPart, utcnow
from docflow.store.workers import stale_worker_names
from docflow.worker.celery_app import OCR_QUEUE
from docflow.worker.dispatch import Dispatcher, TaskRef
from docflow.worker.routing import queue_for_name

log = logging.getLogger(__name__)
CHUNK = 1000


@dataclass(frozen=True)
class ReconcileReport:
    expired_leases: int = 0
    lost_messages: int = 0
    sent: int = 0
    restored: int = 0  # messages taken by workers that are gone, put back in their queues
    skipped: bool = False  # another host's reconciler was running


def reconcile(store: Store, dispatcher: Dispatcher, settings: Settings) -> ReconcileReport:
    """One round; with many hosts running reconcilers, one round runs at a time."""
    with store.db.exclusive("docflow.reconciler") as mine:
        if not mine:
            return ReconcileReport(skipped=True)
        return _reconcile(store, dispatcher, settings)


def _reconcile(store: Store, dispatcher: Dispatcher, settings: Settings) -> ReconcileReport:
    # A worker beats every heartbeat_seconds; one silent for worker_stale_seconds is gone.
    restored = dispatcher.restore_stranded(settings.worker_stale_seconds)
    if restored:
        log.info("reconciler: %d messages of workers that are gone put back in their queues",
                 restored)
    expired = _release_expired(store, settings)
    lost = _find_lost(store, dispatcher, settings)
    refs = expired + [r for r in lost if r not in expired]
    sent = dispatcher.send(refs) if refs else 0
    if refs:
        log.info("reconciler: %d expired leases, %d lost messages, %d sent",
                 len(expired), len(lost), sent)
    return ReconcileReport(expired_leases=len(expired), lost_messages=len(lost), sent=sent,
                           restored=restored)


def _release_expired(store: Store, settings: Settings) -> list[TaskRef]:
    """Put back documents whose worker stopped renewing its lease or stopped beating."""
    now = utcnow()
    refs: list[TaskRef] = []
    with store.db.write() as session:
        stale = stale_worker_names(session, settings.worker_stale_seconds)
        gone = Document.lease_until < now
        if stale:
            gone = gone | Document.worker.in_(stale)
        rows = session.scalars(select(Document).where(
            Document.status == DocumentStatus.PROCESSING, Document.ocr_parts.is_(None),
            gone).limit(CHUNK))
        for doc in rows:
            release(doc)
            refs.append(TaskRef(doc.id, doc.task_id, queue_for_name(doc.filename),
                                size=doc.size))
        # A split document is not sent again (that would OCR it all again): its parts are.
        refs += [_part_ref(part) for part in parts.release_expired(session, sorted(stale), CHUNK)]
        refs += [_part_ref(part)
                 for part in parts.unfinished_documents(session, sorted(stale), CHUNK)]
    return refs


def _part_ref(part: OcrPart) -> TaskRef:
    return TaskRef(part.document_id, part.task_id, OCR_QUEUE, part_id=part.id)


def _find_lost(store: Store, dispatcher: Dispatcher, settings: Settings) -> list[TaskRef]:
    """Queued documents and OCR parts with fewer messages in the broker than there are waiting
    (a message carrying several documents counts each).

    The broker's count includes the unacknowledged messages of work in flight (tasks ack late),
    so documents and parts being processed are counted on the database side too: otherwise each
    one in flight would hide one lost message until the whole backlog was done.
    The oldest are sent first, documents and parts alike.
    """
    pending = dispatcher.pending_documents()
    if pending is None:
        return []
    cutoff = utcnow() - timedelta(seconds=settings.resend_after_seconds)
    with store.db.write() as session:
        in_flight = (Document.status == DocumentStatus.PROCESSING) & Document.ocr_parts.is_(None)
        waiting = (session.scalar(select(func.count()).select_from(Document).where(
            (Document.status == DocumentStatus.QUEUED) | in_flight)) or 0)
        waiting += parts.count_waiting(session)
        missing = waiting - pending
        if missing <= 0:
            return []
        limit = min(missing, CHUNK)
        docs = session.scalars(select(Document).where(
            Document.status == DocumentStatus.QUEUED, Document.enqueued_at < cutoff)
            .order_by(Document.enqueued_at).limit(limit))
        oldest = sorted([*docs, *parts.queued_before(session, cutoff, limit)],
                        key=lambda row: row.enqueued_at or cutoff)[:limit]
        refs = []
        now = utcnow()
        for row in oldest:
            row.enqueued_at = now
            refs.append(_part_ref(row) if isinstance(row, OcrPart)
                        else TaskRef(row.id, row.task_id, queue_for_name(row.filename),
                                     size=row.size))
    return refs
