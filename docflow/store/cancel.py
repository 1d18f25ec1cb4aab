"""Cancelling documents: the database says so, and every worker obeys what it says.

A cancelled document is finished (`cancelled`, not counted as failed): a message for it that is
still in the broker finds it finished when claimed, its open OCR parts are cancelled with it, and
a worker reading it now loses its claim and stops at its next lease renewal (worker/cancel.py).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from docflow.store import ocr_parts as parts
from docflow.store.models import Document, DocumentStatus, utcnow

OPEN = (DocumentStatus.QUEUED, DocumentStatus.PROCESSING)
CANCELLED_MESSAGE = "Cancelled by a user before it finished."


def cancel_document(session: Session, document_id: str) -> bool:
    """Cancel one document that is queued or processing; False when it was already finished."""
    return _cancel(session, Document.id == document_id) == 1


def cancel_batch(session: Session, batch_id: str) -> int:
    """Cancel every unfinished document of a batch (attachments and members too); how many."""
    return _cancel(session, Document.batch_id == batch_id)


def _cancel(session: Session, which: object) -> int:
    ids = list(session.scalars(select(Document.id).where(which, Document.status.in_(OPEN))))
    if not ids:
        return 0
    session.execute(update(Document).where(Document.id.in_(ids), Document.status.in_(OPEN))
                    .values(status=DocumentStatus.CANCELLED, error_code="cancelled",
                            error_message=CANCELLED_MESSAGE, finished_at=utcnow(),
                            lease_until=None))
    for doc_id in ids:
        parts.cancel_open(session, doc_id)
    return len(ids)
