"""Batches: a set of documents uploaded together, and their progress.

A batch can be created empty and filled by several requests; a client's idempotency keys make
a retried request return what the first one created instead of creating it twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from docflow.store.counts import batch_counts, counts_of_batches
from docflow.store.db import Database
from docflow.store.documents import NewDocument, find_by_idempotency_keys, register_documents
from docflow.store.keyset import Key, Keyset, Page, read_page
from docflow.store.models import Batch, Document, DocumentStatus

T = TypeVar("T")


class BatchNotFound(Exception):
    code = "not_found"

    def __init__(self, batch_id: str) -> None:
        super().__init__(f"No batch with id {batch_id!r}.")
        self.batch_id = batch_id


class BatchFull(Exception):
    code = "batch_full"

    def __init__(self, batch_id: str, count: int, adding: int, limit: int) -> None:
        super().__init__(f"Batch {batch_id!r} holds {count} documents; {adding} more would pass "
                         f"the limit of {limit} per batch. Start a new batch for the rest.")
        self.limit = limit


def create_batch(session: Session, source: str, name: str | None = None,
                 idempotency_key: str | None = None) -> Batch:
    batch = Batch(source=source, name=name, document_count=0, idempotency_key=idempotency_key)
    session.add(batch)
    session.flush()
    return batch


def find_batch_by_key(session: Session, idempotency_key: str) -> Batch | None:
    return session.scalars(select(Batch).where(Batch.idempotency_key == idempotency_key)).first()


def open_batch(session: Session, source: str, name: str | None,
               idempotency_key: str | None) -> tuple[Batch, bool]:
    """The batch created earlier under this key, else a new one; True when it is new."""
    if idempotency_key is not None:
        existing = find_batch_by_key(session, idempotency_key)
        if existing is not None:
            return existing, False
    return create_batch(session, source, name, idempotency_key), True


@dataclass(frozen=True)
class Appended:
    batch_id: str
    document_count: int  # the batch's documents after this request
    documents: list[tuple[Document, bool]]  # each file's document; True if created just now


def append_to_batch(session: Session, batch_id: str, items: Sequence[NewDocument],
                    max_files: int) -> Appended:
    """Add documents to a batch; a key seen before gets its existing document back."""
    # Locked (FOR UPDATE on PostgreSQL; SQLite writers hold the lock from BEGIN IMMEDIATE).
    batch = session.get(Batch, batch_id, with_for_update=True)
    if batch is None:
        raise BatchNotFound(batch_id)
    fresh, plan = _plan_by_key(session, items)
    if batch.document_count + len(fresh) > max_files:
        raise BatchFull(batch_id, batch.document_count, len(fresh), max_files)
    created = register_documents(session, fresh, batch_id=batch_id)
    batch.document_count += len(created)
    return Appended(batch_id=batch_id, document_count=batch.document_count,
                    documents=_placed(plan, created))


def upload_batch(session: Session, source: str, name: str | None,
                 items: Sequence[NewDocument]) -> Appended:
    """A new batch of these files; a key seen before gets its existing document back and adds
    nothing. When every file is known, no batch is made: the answer is the first file's."""
    fresh, plan = _plan_by_key(session, items)
    first = plan[0] if plan else None
    if not fresh and isinstance(first, Document) and first.batch_id is not None:
        known = session.get(Batch, first.batch_id)
        if known is not None:
            return Appended(batch_id=known.id, document_count=known.document_count,
                            documents=_placed(plan, []))
    batch = create_batch(session, source, name)
    created = register_documents(session, fresh, batch_id=batch.id)
    batch.document_count = len(created)
    return Appended(batch_id=batch.id, document_count=batch.document_count,
                    documents=_placed(plan, created))


def _plan_by_key(session: Session, items: Sequence[NewDocument]
                 ) -> tuple[list[NewDocument], list[Document | int]]:
    """The items to create, and for each item its existing document (a key seen before) or
    the index of its new one in the first list (the same key twice in a request is one)."""
    existing = find_by_idempotency_keys(
        session, [i.idempotency_key for i in items if i.idempotency_key])
    fresh: list[NewDocument] = []
    first_in_request: dict[str, int] = {}
    plan: list[Document | int] = []
    for item in items:
        key = item.idempotency_key
        if key is not None and key in existing:
            plan.append(existing[key])
        elif key is not None and key in first_in_request:
            plan.append(first_in_request[key])
        else:
            if key is not None:
                first_in_request[key] = len(fresh)
            plan.append(len(fresh))
            fresh.append(item)
    return fresh, plan


def _placed(plan: list[Document | int], created: list[Document]
            ) -> list[tuple[Document, bool]]:
    """Each item's document, True for the first item that created it."""
    claimed: set[int] = set()
    documents: list[tuple[Document, bool]] = []
    for step in plan:
        if isinstance(step, Document):
            documents.append((step, False))
        else:
            documents.append((created[step], step not in claimed))
            claimed.add(step)
    return documents


def write_with_retry(db: Database, work: Callable[[Session], T], attempts: int = 3) -> T:
    """Run `work` in a write transaction; after a unique-key race it runs again and sees the
    winner's rows (SQLite serialises writers, so only PostgreSQL gets here)."""
    for attempt in range(attempts):
        try:
            with db.write() as session:
                return work(session)
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


# Newest first: a tenant's batches read (tenant_id, created_at, id) backwards (migration 0017).
BATCH_ORDER = Keyset((Batch.created_at, Batch.id), descending=True)


def list_batches(session: Session, limit: int, *, after: Key | None = None,
                 before: Key | None = None, offset: int = 0) -> Page[Batch]:
    """A page of batches, newest first (see docflow.store.keyset)."""
    return read_page(session, select(Batch), BATCH_ORDER, limit, after=after, before=before,
                     offset=offset)


def count_batches(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Batch)) or 0


@dataclass(frozen=True)
class BatchProgress:
    batch_id: str
    total: int
    queued: int
    processing: int
    completed: int
    failed: int
    cancelled: int = 0  # stopped by a user: finished, but neither completed nor failed
    # Completed documents that carry warnings, and how many carry each warning code (a document
    # with two codes counts under both): completed, yet worth a look.
    with_warnings: int = 0
    warnings: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.completed + self.failed + self.cancelled >= self.total

    @property
    def progress_percent(self) -> float:
        if self.total == 0:
            return 100.0
        return round(100.0 * (self.completed + self.failed + self.cancelled) / self.total, 2)


def batch_progress(session: Session, batch_id: str) -> BatchProgress | None:
    """The batch's counters (store/counts.py): a few rows, however many documents it holds."""
    batch = session.get(Batch, batch_id)
    if batch is None:
        return None
    counts = batch_counts(session, batch_id)
    return _progress(batch_id, ((s, c or None, n) for (s, c), n in counts.items()))


def progress_of_batches(session: Session, batch_ids: Sequence[str]) -> dict[str, BatchProgress]:
    """Each batch's progress from its counters, all read at once (the batches list's page)."""
    counted = counts_of_batches(session, batch_ids)
    return {b: _progress(b, ((s, c or None, n) for (s, c), n in counts.items()))
            for b, counts in counted.items()}


def counted_batch_progress(session: Session, batch_id: str) -> BatchProgress | None:
    """The same, counted from the documents with one GROUP BY on the (batch_id, status,
    warning_codes) index: what the counters replace, for checking them and for comparison."""
    batch = session.get(Batch, batch_id)
    if batch is None:
        return None
    rows = session.execute(
        select(Document.status, Document.warning_codes, func.count())
        .where(Document.batch_id == batch_id)
        .group_by(Document.status, Document.warning_codes))
    return _progress(batch_id, rows)


def _progress(batch_id: str, rows: Iterable[tuple[str, str | None, int]]) -> BatchProgress:
    """Progress from (status, warning codes, documents) rows."""
    counts = dict.fromkeys(DocumentStatus.ALL, 0)
    with_warnings = 0
    warnings: Counter[str] = Counter()
    for status, codes, count in rows:
        counts[status] = counts.get(status, 0) + count
        if codes and status == DocumentStatus.COMPLETED:
            with_warnings += count
            for code in codes.split(","):
                warnings[code] += count
    return BatchProgress(
        batch_id=batch_id,
        total=sum(counts.values()),
        **{status: counts[status] for status in DocumentStatus.ALL},
        with_warnings=with_warnings,
        warnings=dict(sorted(warnings.items())),
    )
