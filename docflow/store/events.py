"""Finished documents in the order they finished: the cursor behind the live event streams.

A cursor is (finished_at, id). Only documents that finished at least a settle time ago are
read, so a result transaction that stamped finished_at but committed later cannot be passed
over: whatever sorts below a cursor handed out is final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from docflow.store.models import Document, DocumentStatus

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# An id above every document id (ids are 32 hex digits): "everything up to this instant".
AFTER_EVERY_ID = "~"


class InvalidCursor(ValueError):
    code = "invalid_cursor"


@dataclass(frozen=True, order=True)
class Cursor:
    finished_at: datetime
    id: str

    def encode(self) -> str:
        micros = (self.finished_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}-{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        micros, _, doc_id = text.strip().partition("-")
        if not micros.isdigit() or not doc_id or len(doc_id) > 40:
            raise InvalidCursor(f"{text!r} is not an event id this server gave out.")
        return cls(_EPOCH + timedelta(microseconds=int(micros)), doc_id)


@dataclass(frozen=True)
class FinishedDocument:
    id: str
    batch_id: str | None
    filename: str
    source_path: str | None
    status: str
    error_code: str | None
    error_message: str | None
    doc_type: str | None
    finished_at: datetime

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.finished_at, self.id)


def finished_between(session: Session, after: Cursor, until: datetime,
                     batch_id: str | None = None, limit: int = 500) -> list[FinishedDocument]:
    """Documents that finished after `after` and no later than `until`, oldest first (read
    from the (finished_at, id) or (batch_id, finished_at, id) index)."""
    query = (select(Document.id, Document.batch_id, Document.filename, Document.source_path,
                    Document.status, Document.error_code, Document.error_message,
                    Document.doc_type, Document.finished_at)
             # The first bound repeats the second's: a range an index can seek to.
             .where(Document.finished_at >= after.finished_at,
                    or_(Document.finished_at > after.finished_at,
                        and_(Document.finished_at == after.finished_at,
                             Document.id > after.id)),
                    Document.finished_at <= until,
                    Document.status.in_(DocumentStatus.TERMINAL))
             .order_by(Document.finished_at, Document.id).limit(limit))
    if batch_id is not None:
        query = query.where(Document.batch_id == batch_id)
    return [FinishedDocument(*row) for row in session.execute(query)]
