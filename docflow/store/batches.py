"""Batches: a set of documents uploaded together, and their progress."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from docflow.store.models import Batch, Document, DocumentStatus


def create_batch(session: Session, source: str, name: str | None = None) -> Batch:
    batch = Batch(source=source, name=name, document_count=0)
    session.add(batch)
    session.flush()
    return batch


@dataclass(frozen=True)
class BatchProgress:
    batch_id: str
    total: int
    queued: int
    processing: int
    completed: int
    failed: int

    @property
    def done(self) -> bool:
        return self.completed + self.failed >= self.total

    @property
    def progress_percent(self) -> float:
        if self.total == 0:
            return 100.0
        return round(100.0 * (self.completed + self.failed) / self.total, 2)


def batch_progress(session: Session, batch_id: str) -> BatchProgress | None:
    """One indexed GROUP BY over (batch_id, status)."""
    batch = session.get(Batch, batch_id)
    if batch is None:
        return None
    counts: dict[str, int] = dict(session.execute(  # type: ignore[arg-type]
        select(Document.status, func.count()).where(Document.batch_id == batch_id)
        .group_by(Document.status)).all())
    return BatchProgress(
        batch_id=batch_id,
        total=sum(counts.values()),
        **{status: counts.get(status, 0) for status in DocumentStatus.ALL},
    )
