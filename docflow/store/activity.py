"""What finished lately (documents and pages per minute, failures by code: the overview), a
batch's failures by code, and every failed document by code (GET /metrics).

The overview's read the (tenant_id, status, finished_at, id) index (migration 0019) from the
start of their window: a few thousand index entries at 500,000 documents, never every completed
document (SQLite, which keeps no statistics, otherwise seeks the status and reads them all).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from docflow.store.models import FAILED_WITH_CODE, Document, DocumentStatus
from docflow.store.scope import current_scope


def completed_since(session: Session, since: datetime) -> tuple[int, int]:
    """(documents, pages) completed since `since`."""
    done, pages = session.execute(
        select(func.count(), func.coalesce(func.sum(Document.page_count), 0))
        .where(Document.status == DocumentStatus.COMPLETED, Document.finished_at >= since)).one()
    return int(done), int(pages)


def failures_of_batch(session: Session,
                      batch_id: str) -> list[tuple[str | None, int, str | None]]:
    """(code, documents, one of their messages) of a batch's failures, most first."""
    return [(code, count, message) for code, count, message in session.execute(
        select(Document.error_code, func.count(), func.min(Document.error_message))
        .where(Document.batch_id == batch_id, Document.status == DocumentStatus.FAILED)
        .group_by(Document.error_code).order_by(func.count().desc()))]


def failures_since(session: Session, since: datetime) -> list[tuple[str | None, int, str | None]]:
    """(code, documents, one of their messages) of the failures since `since`, most first."""
    return [(code, count, message) for code, count, message in session.execute(
        select(Document.error_code, func.count(), func.min(Document.error_message))
        .where(Document.status == DocumentStatus.FAILED, Document.finished_at >= since)
        .group_by(Document.error_code).order_by(func.count().desc()))]


def failed_by_code(session: Session) -> dict[str, int]:
    """How many documents are failed now, by error code (in a request, of its tenant), those
    without a code left out: read from the failed documents' partial index (0021), as many
    entries as they are."""
    # Its WHERE in literals (SQLite uses a partial index only for a WHERE it can see), and the
    # index named there: without statistics SQLite would rather seek (status, lease_until).
    hint = " INDEXED BY ix_documents_failed_code" if session.get_bind().dialect.name == \
        "sqlite" else ""
    scope = current_scope()  # Core text: the ORM's tenant hook does not see it
    tenant = " AND tenant_id = :tenant" if scope is not None else ""
    return {code: count for code, count in session.execute(text(
        f"SELECT error_code, count(*) FROM documents{hint} "
        f"WHERE {FAILED_WITH_CODE}{tenant} GROUP BY error_code"),
        {"tenant": scope.tenant} if scope is not None else {})}
