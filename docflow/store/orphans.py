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
from pathlib import Path

from sqlalchemy import select

from docflow.store.blobs import BlobStore, LocalBlobStore
from docflow.store.db import Database
from docflow.store.models import Document

log = logging.getLogger(__name__)
CHUNK = 500


@dataclass(frozen=True)
class Swept:
    looked_at: int
    deleted: int
    temp_files: int = 0  # leftovers of uploads and copies a crash interrupted


def _stale_temp_files(blobs: BlobStore, horizon: float) -> Iterator[Path]:
    """Partial uploads in this host's temp dir (`upload-*`), and originals half-copied onto
    another filesystem (`.adopt-*` beside the originals), untouched since `horizon`."""
    candidates = [Path(blobs.tmp_dir).glob("upload-*")]
    if isinstance(blobs, LocalBlobStore):
        candidates.append(blobs.root.glob("*/*/.adopt-*"))
    for path in (p for found in candidates for p in found):
        try:
            if path.is_file() and path.stat().st_mtime < horizon:
                yield path
        except FileNotFoundError:  # finished or removed meanwhile
            continue


def sweep_orphans(db: Database, blobs: BlobStore, grace_seconds: float,
                  now: float | None = None) -> Swept:
    """Delete originals older than the grace period that no document refers to, and the temp
    files that crashed uploads left behind."""
    horizon = (time.time() if now is None else now) - grace_seconds
    temp_files = 0
    for path in _stale_temp_files(blobs, horizon):
        path.unlink(missing_ok=True)
        temp_files += 1
    if temp_files:
        log.info("orphan sweep: deleted %d temp files of interrupted uploads older than %.0f h",
                 temp_files, grace_seconds / 3600)
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
    return Swept(looked_at=looked_at, deleted=deleted, temp_files=temp_files)


def _chunks(items: Iterator[tuple[str, float]], size: int) -> Iterator[list[tuple[str, float]]]:
    while chunk := list(islice(items, size)):
        yield chunk
