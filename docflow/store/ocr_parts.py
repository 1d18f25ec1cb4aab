"""OCR parts: a long scanned PDF's pages OCR'd in page ranges by tasks of their own.

The claimed document is split: one row per range, written with the attempt that split it, and
the document keeps status `processing` with `ocr_parts` set and no lease (no one worker holds
it; each part has its own lease and tries, like a document). A part that stores its pages
decides, with the document row locked, whether it was the last; the last one finishes the
document, taking the document's lease for that short step. The document's attempt fences
everything: parts of an earlier attempt can neither store pages nor finish anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from docflow.store.documents import mark_failed
from docflow.store.models import Document, DocumentStatus, OcrPart, OcrPartStatus, utcnow

Holder = Document | OcrPart


def split(session: Session, doc: Document, ranges: Sequence[tuple[int, int]],
          read: dict[tuple[int, int], list[dict[str, Any]]]) -> list[OcrPart]:
    """Record this attempt's parts; ranges in `read` (text layers only) are stored done.

    Returns the parts still to OCR. The document stays `processing` without a lease.
    """
    cancel_open(session, doc.id)  # an earlier attempt's leftovers must not run on
    now = utcnow()
    parts = []
    for first, last in ranges:
        pages = read.get((first, last))
        parts.append(OcrPart(
            document_id=doc.id, attempt=doc.attempts, first_page=first, last_page=last,
            status=OcrPartStatus.QUEUED if pages is None else OcrPartStatus.COMPLETED,
            pages=pages, tries=0, enqueued_at=now, created_at=now,
            finished_at=None if pages is None else now))
    session.add_all(parts)
    doc.ocr_parts = len(parts)
    doc.lease_until = None
    doc.worker = doc.worker_host = None
    doc.worker_pid = None
    session.flush()
    return [part for part in parts if part.status == OcrPartStatus.QUEUED]


class PartOutcome(Enum):
    CLAIMED = "claimed"
    STORED = "stored"  # its pages are in already (a redelivered message): only the finish is left
    BUSY = "busy"  # another live worker is reading it
    OBSOLETE = "obsolete"  # its document finished, failed, or was split again
    MISSING = "missing"
    EXHAUSTED = "exhausted"  # it took down too many workers: the document failed


@dataclass(frozen=True)
class PartClaim:
    outcome: PartOutcome
    document_id: str = ""
    attempt: int = 0  # the document's attempt the part belongs to
    first_page: int = 0
    last_page: int = 0
    sha256: str = ""
    filename: str = ""
    lease_until: datetime | None = None


def claim(session: Session, part_id: str, *, worker: str, host: str, pid: int,
          lease_seconds: float, max_attempts: int,
          holder_gone: Callable[[Holder], bool]) -> PartClaim:
    """Take a part to OCR, unless it is stored, obsolete, or held by a live worker."""
    now = utcnow()
    found = session.get(OcrPart, part_id)
    if found is None:
        return PartClaim(PartOutcome.MISSING)
    doc = current_document(session, found.document_id, found.attempt)  # lock order: document,
    part = session.get(OcrPart, part_id, with_for_update=True, populate_existing=True)  # part
    assert part is not None
    if doc is None or part.status in (OcrPartStatus.FAILED, OcrPartStatus.CANCELLED):
        return PartClaim(PartOutcome.OBSOLETE)
    done = PartClaim(PartOutcome.STORED, doc.id, part.attempt, part.first_page, part.last_page,
                     doc.sha256, doc.filename)
    if part.status == OcrPartStatus.COMPLETED:
        return done
    if (part.status == OcrPartStatus.PROCESSING and part.lease_until is not None
            and part.lease_until > now and not holder_gone(part)):
        return PartClaim(PartOutcome.BUSY, lease_until=part.lease_until)
    if part.tries >= max_attempts:
        fail_document(session, doc, "worker_lost", f"OCR of pages {part.first_page}-"
                      f"{part.last_page} was interrupted {part.tries} times (the worker died or "
                      "ran out of time); the document was given up so it cannot take more "
                      "workers down.")
        return PartClaim(PartOutcome.EXHAUSTED)
    part.status = OcrPartStatus.PROCESSING
    part.tries += 1
    part.worker, part.worker_host, part.worker_pid = worker, host, pid
    part.lease_until = now + timedelta(seconds=lease_seconds)
    part.started_at = now
    return PartClaim(PartOutcome.CLAIMED, doc.id, part.attempt, part.first_page, part.last_page,
                     doc.sha256, doc.filename, part.lease_until)


def current_document(session: Session, doc_id: str, attempt: int) -> Document | None:
    """The document, locked, while `attempt` is its split attempt; else None."""
    doc = session.get(Document, doc_id, with_for_update=True)
    if (doc is None or doc.status != DocumentStatus.PROCESSING or doc.attempts != attempt
            or not doc.ocr_parts):
        return None
    return doc


def renew_lease(session: Session, part_id: str, lease_seconds: float) -> bool:
    result = session.execute(
        update(OcrPart)
        .where(OcrPart.id == part_id, OcrPart.status == OcrPartStatus.PROCESSING)
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds)))
    return result.rowcount == 1  # type: ignore[attr-defined]


def store_pages(session: Session, part_id: str, pages: list[dict[str, Any]]) -> None:
    """Keep a part's pages; the first to arrive stays (every try reads the same pages).

    The caller holds its document locked (current_document), so this cannot race the finish.
    """
    part = session.get(OcrPart, part_id, with_for_update=True)
    if part is None or part.status == OcrPartStatus.COMPLETED:
        return
    part.pages = pages
    part.status = OcrPartStatus.COMPLETED
    part.error_code = None
    part.lease_until = None
    part.finished_at = utcnow()


def release(session: Session, part_id: str) -> None:
    """Put a part back to be tried again (a transient error, or its worker died)."""
    part = session.get(OcrPart, part_id, with_for_update=True)
    if part is not None and part.status == OcrPartStatus.PROCESSING:
        _requeue(part)


def _requeue(part: OcrPart) -> None:
    part.status = OcrPartStatus.QUEUED
    part.lease_until = None
    part.enqueued_at = utcnow()


def remaining(session: Session, doc_id: str, attempt: int) -> int:
    """Parts of this attempt whose pages are not stored yet."""
    return session.scalar(select(func.count()).select_from(OcrPart).where(
        OcrPart.document_id == doc_id, OcrPart.attempt == attempt,
        OcrPart.status != OcrPartStatus.COMPLETED)) or 0


def take_finish(session: Session, doc: Document, *, worker: str, host: str, pid: int,
                lease_seconds: float, holder_gone: Callable[[Holder], bool]) -> bool:
    """Whether this worker finishes the document: none other is finishing it right now."""
    now = utcnow()
    if doc.lease_until is not None and doc.lease_until > now and not holder_gone(doc):
        return False
    doc.worker, doc.worker_host, doc.worker_pid = worker, host, pid
    doc.lease_until = now + timedelta(seconds=lease_seconds)
    return True


def pages_of(session: Session, doc_id: str, attempt: int) -> list[dict[str, Any]]:
    """Every stored page of this attempt, in page order."""
    rows = session.scalars(select(OcrPart.pages).where(
        OcrPart.document_id == doc_id, OcrPart.attempt == attempt,
        OcrPart.status == OcrPartStatus.COMPLETED).order_by(OcrPart.first_page))
    return [page for pages in rows for page in pages or []]


def fail_document(session: Session, doc: Document, code: str, message: str,
                  part_id: str | None = None) -> None:
    """Fail the document with a part's reason; its other parts are called off."""
    mark_failed(doc, code, message)
    cancel_open(session, doc.id)
    part = session.get(OcrPart, part_id) if part_id else None
    if part is not None and part.status != OcrPartStatus.COMPLETED:
        part.status, part.error_code, part.finished_at = OcrPartStatus.FAILED, code, utcnow()


def drop_finish(doc: Document, host: str, pid: int) -> None:
    """Let go of finishing the document (a transient error): the retry, anywhere, may take it."""
    if doc.worker_host == host and doc.worker_pid == pid:
        doc.lease_until = None


def cancel_open(session: Session, doc_id: str) -> None:
    session.execute(update(OcrPart).where(
        OcrPart.document_id == doc_id, OcrPart.status.in_(OcrPartStatus.OPEN))
        .values(status=OcrPartStatus.CANCELLED, lease_until=None))


def _current_attempt() -> Any:
    return ((Document.id == OcrPart.document_id) & (Document.attempts == OcrPart.attempt)
            & (Document.status == DocumentStatus.PROCESSING) & Document.ocr_parts.is_not(None))


def release_expired(session: Session, stale_workers: Sequence[str], limit: int) -> list[OcrPart]:
    """Parts whose worker stopped renewing its lease or stopped beating, put back in the queue."""
    gone = OcrPart.lease_until < utcnow()
    if stale_workers:
        gone = gone | OcrPart.worker.in_(stale_workers)
    rows = list(session.scalars(select(OcrPart).join(Document, _current_attempt()).where(
        OcrPart.status == OcrPartStatus.PROCESSING, gone).limit(limit)))
    for part in rows:
        _requeue(part)
    return rows


def unfinished_documents(session: Session, stale_workers: Sequence[str],
                         limit: int) -> list[OcrPart]:
    """Split documents whose finishing worker died: their lease is dropped, and the last part
    of each is returned to be sent again (its task finishes a document whose parts are in)."""
    gone = Document.lease_until < utcnow()
    if stale_workers:
        gone = gone | Document.worker.in_(stale_workers)
    docs = list(session.scalars(select(Document).where(
        Document.status == DocumentStatus.PROCESSING, Document.ocr_parts.is_not(None),
        gone).limit(limit)))
    parts = []
    for doc in docs:
        doc.lease_until = None
        doc.worker = doc.worker_host = None
        doc.worker_pid = None
        last = session.scalars(select(OcrPart).where(
            OcrPart.document_id == doc.id, OcrPart.attempt == doc.attempts)
            .order_by(OcrPart.first_page.desc()).limit(1)).first()
        if last is not None:
            parts.append(last)
    return parts


def count_waiting(session: Session) -> int:
    """Parts of current attempts that have a message: queued ones and ones being processed."""
    return session.scalar(select(func.count()).select_from(OcrPart).join(
        Document, _current_attempt()).where(OcrPart.status.in_(OcrPartStatus.OPEN))) or 0


def queued_before(session: Session, cutoff: datetime, limit: int) -> list[OcrPart]:
    """Queued parts of current attempts, oldest first, waiting since before `cutoff`."""
    return list(session.scalars(select(OcrPart).join(Document, _current_attempt()).where(
        OcrPart.status == OcrPartStatus.QUEUED, OcrPart.enqueued_at < cutoff)
        .order_by(OcrPart.enqueued_at).limit(limit)))
