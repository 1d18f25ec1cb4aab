"""Sending document tasks. A send that fails leaves the row `queued`; the reconciler resends.

Small documents of the default queue go several to a message (`documents_per_task`,
worker/groups.py). The reconciler counts messages against waiting documents, so each such
message is noted in the broker with how many documents it carries (`GROUPS`, a hash of task id
to count) until its task ends.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from celery import Celery
from sqlalchemy.orm import Session

from docflow.config import Settings
from docflow.store import DocumentStatus, Store
from docflow.store.batches import (
    Appended,
    append_to_batch,
    upload_batch,
    write_with_retry,
)
from docflow.store.documents import NewDocument, register_documents
from docflow.worker import unacked
from docflow.worker.celery_app import (
    DEFAULT_QUEUE,
    QUEUES,
    TASK_OCR_PART,
    TASK_PROCESS_DOCUMENT,
    TASK_PROCESS_DOCUMENTS,
    TASK_TRAIN_CLASSIFIER,
    create_celery,
)
from docflow.worker.routing import queue_for_name

log = logging.getLogger(__name__)
GROUPS = "docflow:groups"  # task id of a message carrying several documents -> how many
# Celery's limits for such a message start later than any of its documents' own would end.
GROUP_LIMIT_MARGIN_SECONDS = 5


@dataclass(frozen=True)
class TaskRef:
    """A task to send: a document's, or with `part_id` one OCR part of that document's.
    `size` (bytes of the original), when known, lets a small document share a message."""

    document_id: str
    task_id: str
    queue: str = DEFAULT_QUEUE
    part_id: str | None = None
    size: int | None = None


def group_budget_seconds(settings: Settings) -> float:
    """How long a task carrying several documents goes on starting the next one; the rest are
    sent on in a message of their own. The last one started may take its hard limit, and the
    message must come back from the broker (the visibility timeout) only if its worker died."""
    return float(max(0, settings.visibility_timeout - settings.task_time_limit - 30))


def group_time_limits(settings: Settings) -> tuple[float, float]:
    """Celery's (soft, hard) limits of a message carrying several documents: a backstop behind
    each document's own (worker/memory.py), which always end first."""
    budget = group_budget_seconds(settings) + GROUP_LIMIT_MARGIN_SECONDS
    return budget + settings.task_soft_time_limit, budget + settings.task_time_limit


class Dispatcher:
    """Sends tasks to the broker the settings name (or the one `docflow serve` started)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._app: Celery | None = None
        self._url: str | None = None

    def _celery(self) -> Celery | None:
        url = self._settings.effective_broker_url()
        if url is None:
            return None
        if self._app is None or url != self._url:
            self._app, self._url = create_celery(self._settings), url
            self._app.conf.broker_url = url
        return self._app

    def send(self, refs: Iterable[TaskRef]) -> int:
        """Send each task; returns how many of `refs` reached the broker. Never raises for the
        broker."""
        refs = list(refs)
        if not refs:
            return 0
        app = self._celery()
        if app is None:
            log.warning("no broker is running; %d documents stay queued until `docflow serve` "
                        "starts", len(refs))
            return 0
        sent = 0
        try:
            with app.producer_or_acquire() as producer:
                for message in self._messages(refs):
                    if len(message) == 1:
                        ref = message[0]
                        name, arg = ((TASK_PROCESS_DOCUMENT, ref.document_id)
                                     if ref.part_id is None else (TASK_OCR_PART, ref.part_id))
                        app.send_task(name, args=[arg], task_id=ref.task_id, queue=ref.queue,
                                      producer=producer)
                    else:
                        self._send_group(app, producer, [ref.document_id for ref in message])
                    sent += len(message)
        except Exception as exc:
            log.warning("broker unavailable (%s); %d documents stay queued for the reconciler",
                        exc, len(refs) - sent)
        return sent

    def _messages(self, refs: list[TaskRef]) -> Iterator[list[TaskRef]]:
        """The refs as messages: small documents of the default queue several to one, in
        order; every other ref alone."""
        per_task = self._settings.documents_per_task
        small: list[TaskRef] = []
        for ref in refs:
            if (per_task > 1 and ref.part_id is None and ref.queue == DEFAULT_QUEUE
                    and ref.size is not None
                    and ref.size <= self._settings.small_document_bytes):
                small.append(ref)
                if len(small) == per_task:
                    yield small
                    small = []
            else:
                yield [ref]
        if small:
            yield small

    def _send_group(self, app: Celery, producer: Any, document_ids: list[str]) -> None:
        task_id = str(uuid.uuid4())
        client = producer.channel.client
        # Noted before it is sent: a message the reconciler sees is never counted as one.
        client.hset(GROUPS, task_id, len(document_ids))
        soft, hard = group_time_limits(self._settings)
        try:
            app.send_task(TASK_PROCESS_DOCUMENTS, args=[document_ids], task_id=task_id,
                          queue=DEFAULT_QUEUE, producer=producer, soft_time_limit=soft,
                          time_limit=hard)
        except Exception:
            self._forget(client, task_id)
            raise

    def send_later(self, document_id: str, countdown: float, retries: int = 0) -> bool:
        """Send one document's task alone, due in `countdown` seconds, as its retry number
        `retries` (a document of a group tried again: its retries are its own). Never raises
        for the broker; False when it did not reach it (the reconciler sends it later)."""
        app = self._celery()
        if app is None:
            return False
        try:
            app.send_task(TASK_PROCESS_DOCUMENT, args=[document_id], queue=DEFAULT_QUEUE,
                          countdown=countdown, retries=retries)
            return True
        except Exception as exc:
            log.warning("could not send document %s again (%s); the reconciler will", document_id,
                        exc)
            return False

    def group_done(self, task_id: str) -> None:
        """The task of a message carrying several documents has ended: the message no longer
        stands for them (its late ack follows)."""
        app = self._celery()
        if app is None:
            return
        try:
            with app.connection_for_write() as conn:
                self._forget(conn.default_channel.client, task_id)
        except Exception:  # counted a while longer: the reconciler resends a little later
            log.warning("could not note the end of task %s in the broker", task_id,
                        exc_info=True)

    @staticmethod
    def _forget(client: Any, task_id: str) -> None:
        client.hdel(GROUPS, task_id)

    def send_training(self, tenant: str) -> bool:
        """Ask a worker to train `tenant`'s classifier again; False when no broker took it."""
        app = self._celery()
        if app is None:
            return False
        try:
            app.send_task(TASK_TRAIN_CLASSIFIER, args=[tenant], queue=DEFAULT_QUEUE)
            return True
        except Exception as exc:
            log.warning("could not send the training task: %s", exc)
            return False

    def ping(self) -> bool:
        app = self._celery()
        if app is None:
            return False
        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
                return True
        except Exception:
            return False

    def pending_messages(self) -> int | None:
        """Messages waiting in or taken from the queue but not yet acknowledged (Redis only)."""
        counted = self._count_pending()
        return None if counted is None else counted[0]

    def pending_documents(self) -> int | None:
        """Documents the broker's pending messages stand for: a message carrying several counts
        each of them (Redis only)."""
        counted = self._count_pending()
        return None if counted is None else counted[0] + counted[1]

    def _count_pending(self) -> tuple[int, int] | None:
        """(pending messages, documents beyond the first in messages that carry several)."""
        app = self._celery()
        if app is None:
            return None
        try:
            with app.connection_for_write() as conn:
                client = conn.default_channel.client
                keys = [k for q in QUEUES for k in client.keys(f"{q}*")]
                queued = sum(client.llen(k) for k in keys
                             if client.type(k) in (b"list", "list"))
                messages = queued + int(client.hlen("unacked"))
                sizes = [int(n) for n in client.hvals(GROUPS)]
                if sizes and not messages:
                    # No message at all, so none carries documents: notes left by tasks that
                    # ended without saying so (a hard time limit) would hide lost documents.
                    client.delete(GROUPS)
                    sizes = []
                return messages, sum(n - 1 for n in sizes)
        except Exception:
            log.warning("could not count the broker's messages", exc_info=True)
            return None

    def restore_stranded(self, older_than: float) -> int:
        """Put back in their queues the messages taken more than `older_than` seconds ago by
        workers that are gone (worker/unacked.py); returns how many. Never raises."""
        app = self._celery()
        if app is None:
            return 0
        try:
            with app.connection_for_write() as conn:
                channel = conn.default_channel
                tags = unacked.stranded_tags(channel.client, older_than)
                return unacked.restore(channel, tags) if tags else 0
        except Exception:
            log.warning("could not restore the messages of gone workers", exc_info=True)
            return 0

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


@dataclass(frozen=True)
class Submitted:
    batch_id: str | None
    # (document_id, task_id, status, filename, source_path)
    documents: list[tuple[str, str, str, str, str | None]]


def submit_documents(store: Store, dispatcher: Dispatcher, items: Sequence[NewDocument], *,
                     source: str, batch_name: str | None = None,
                     as_batch: bool = True) -> Submitted:
    """Write the rows first (the database is the truth), then send their tasks."""
    with store.db.write() as session:
        if as_batch:
            appended = upload_batch(session, source, batch_name, items)
            batch_id, docs = appended.batch_id, [d for d, _ in appended.documents]
        else:
            batch_id, docs = None, register_documents(session, items)
        rows = [(d.id, d.task_id, d.status, d.filename, d.source_path) for d in docs]
        sizes = {d.id: d.size for d in docs}
    dispatcher.send(TaskRef(doc_id, task_id, queue_for_name(name), size=sizes[doc_id])
                    for doc_id, task_id, status, name, _ in rows
                    if status == DocumentStatus.QUEUED)
    return Submitted(batch_id=batch_id, documents=rows)


@dataclass(frozen=True)
class AppendedDocument:
    document_id: str
    task_id: str
    status: str
    filename: str
    batch_id: str | None
    idempotency_key: str | None
    created: bool  # False: the key was seen before and this is that document
    source_path: str | None = None


@dataclass(frozen=True)
class AppendedBatch:
    batch_id: str
    document_count: int
    documents: list[AppendedDocument]


def append_documents(store: Store, dispatcher: Dispatcher, batch_id: str,
                     items: Sequence[NewDocument], *, max_batch_files: int) -> AppendedBatch:
    """Add documents to an existing batch (rows first), then send tasks for the new ones only.

    Raises BatchNotFound or BatchFull (docflow.store.batches) before anything is written.
    """
    return _write_then_send(store, dispatcher, lambda session: append_to_batch(
        session, batch_id, items, max_batch_files))


def upload_documents(store: Store, dispatcher: Dispatcher, items: Sequence[NewDocument], *,
                     source: str, batch_name: str | None = None) -> AppendedBatch:
    """Make a batch of the files whose idempotency key is new (rows first), then send their
    tasks; a known key answers with its existing document."""
    return _write_then_send(store, dispatcher, lambda session: upload_batch(
        session, source, batch_name, items))


def _write_then_send(store: Store, dispatcher: Dispatcher,
                     write: Callable[[Session], Appended]) -> AppendedBatch:
    def work(session: Session) -> tuple[Appended, list[AppendedDocument]]:
        appended = write(session)
        return appended, [AppendedDocument(d.id, d.task_id, d.status, d.filename, d.batch_id,
                                           d.idempotency_key, created, d.source_path)
                          for d, created in appended.documents]

    appended, docs = write_with_retry(store.db, work)
    sizes = {d.id: d.size for d, _ in appended.documents}
    dispatcher.send(TaskRef(d.document_id, d.task_id, queue_for_name(d.filename),
                            size=sizes.get(d.document_id))
                    for d in docs if d.created and d.status == DocumentStatus.QUEUED)
    return AppendedBatch(batch_id=appended.batch_id, document_count=appended.document_count,
                         documents=docs)
