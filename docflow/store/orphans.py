"""The orphan sweep: originals no document refers to are deleted after a grace period.

Orphans come from uploads refused part-way (the files of a batch stored before its 413 or its
dropped connection) and from a worker's children whose parent result was dropped. A file is
stored before its document row is written, so only originals untouched for the grace period
go; storing the same bytes again touches the original, and each one is looked at again just
before it is deleted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from sqlalchemy import select

from docflow.store.blobs import BlobStore
from docflow.store.db import Database
from docflow.store.models import Document

log = logging.getLogger(__name__)
CHUNK = 500


@dataclass(frozen=True)
class Swept:
    looked_at: int
    deleted: int


def sweep_orphans(db: Database, blobs: BlobStore, grace_seconds: float,
                  now: float | None = None) -> Swept:
    """Delete originals older than the grace period that no document refers to."""
    horizon = (time.time() if now is None else now) - grace_seconds
    looked_at = deleted = 0
    old = ((sha, mtime) for sha, mtime in blobs.listing() if mtime < horizon)
    for chunk in _chunks(old, CHUNK):
        looked_at += len(chunk)
        shas = [sha for sha, _ in chunk]
        with db.read() as session:
            used = set(session.scalars(select(Document.sha256).where(
                Document.sha256.in_(shas)).distinct()))
        for sha in shas:
            if sha in used:
                continue
            stored = blobs.stored_at(sha)
            if stored is None or stored >= horizon:  # gone, or stored again meanwhile
                continue
            with db.read() as session:  # a row written since the chunk's query keeps it
                if session.scalar(select(Document.id).where(Document.sha256 == sha).limit(1)):
                    continue
            blobs.delete(sha)
            deleted += 1
    if deleted:
        log.info("orphan sweep: deleted %d of %d originals older than %.0f h that no document "
                 "refers to", deleted, looked_at, grace_seconds / 3600)
    return Swept(looked_at=looked_at, deleted=deleted)


def _chunks(items: Iterator[tuple[str, float]], size: int) -> Iterator[list[tuple[str, float]]]:
    while chunk := list(islice(items, size)):
        yield chunk
