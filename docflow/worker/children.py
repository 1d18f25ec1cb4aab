"""E-mail attachments and archive members become documents of their own (`parent_id` set).

Each child gets an idempotency key made of its parent's id and its path inside the parent, so
processing the parent twice finds the children it already made instead of adding new ones.
Its source_path is its parent's, then that path: "2019/scans.zip/q1/a.pdf", so a folder filter
finds the members of the archives in that folder too.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from docflow.pipeline.types import ChildDocument
from docflow.store import BlobStore, BlobTooLarge, Document, DocumentStatus
from docflow.store.blobs import StoredBlob
from docflow.store.documents import (
    NewDocument,
    find_by_idempotency_keys,
    mark_failed,
    register_documents,
)
from docflow.worker.dispatch import TaskRef
from docflow.worker.routing import queue_for_name


def child_key(parent_id: str, path: str) -> str:
    return f"child:{parent_id}:{hashlib.sha256(path.encode()).hexdigest()}"


def store_children(blobs: BlobStore, parent_id: str, children: Sequence[ChildDocument],
                   max_file_bytes: int) -> list[tuple[NewDocument, bool]]:
    """Store each child's bytes (before the transaction: this is I/O); True marks one too big.
    Each item's source_path is the child's path inside the parent (register_children adds the
    parent's path)."""
    stored = []
    for child in children:
        key = child_key(parent_id, child.path or child.filename)
        try:
            blob = blobs.put_stream(io.BytesIO(child.data), max_file_bytes)
            too_big = False
        except BlobTooLarge:
            blob = StoredBlob(sha256=hashlib.sha256(child.data).hexdigest(), size=len(child.data))
            too_big = True
        stored.append((NewDocument(filename=child.filename, blob=blob, idempotency_key=key,
                                   source_path=child.path or child.filename), too_big))
    return stored


def register_children(session: Session, parent: Document,
                      stored: Sequence[tuple[NewDocument, bool]],
                      max_file_bytes: int) -> list[TaskRef]:
    """Rows for the children not made before, in the parent's batch; returns tasks to send."""
    existing = find_by_idempotency_keys(session, [item.idempotency_key or ""
                                                  for item, _ in stored])
    fresh = [(item, too_big) for item, too_big in stored if item.idempotency_key not in existing]
    if not fresh:
        return []
    docs = register_documents(session, [replace(item, source_path=_below(parent, item))
                                        for item, _ in fresh], batch_id=parent.batch_id,
                              tenant_id=parent.tenant_id)
    refs = []
    for doc, (_, too_big) in zip(docs, fresh, strict=True):
        doc.parent_id = parent.id
        if too_big:
            mark_failed(doc, "too_large", f"This attachment or archive member is larger than "
                        f"the limit of {max_file_bytes} bytes.")
        elif doc.status == DocumentStatus.QUEUED:
            refs.append(TaskRef(doc.id, doc.task_id, queue_for_name(doc.filename),
                                size=doc.size))
    return refs


def copy_children(session: Session, donor: Document, parent: Document,
                  max_file_bytes: int) -> list[TaskRef]:
    """Give a document that reuses a twin's result children of its own, one per child of the
    twin (same bytes, same path inside the parent); returns tasks to send."""
    rows = session.scalars(select(Document).where(Document.parent_id == donor.id)
                           .order_by(Document.created_at, Document.id)).all()
    donor_folder = _folder_of(donor)
    stored = []
    for row in rows:
        path_hash = (row.idempotency_key or row.id).rsplit(":", 1)[-1]
        inside = row.source_path or ""
        item = NewDocument(filename=row.filename,
                           blob=StoredBlob(sha256=row.sha256, size=row.size),
                           idempotency_key=f"child:{parent.id}:{path_hash}",
                           source_path=inside.removeprefix(donor_folder)
                           if inside.startswith(donor_folder) else row.filename)
        stored.append((item, row.error_code == "too_large"))
    return register_children(session, parent, stored, max_file_bytes)


def _folder_of(parent: Document) -> str:
    """The parent as a folder of its children: its path (its name when it has none), then "/"."""
    return f"{parent.source_path or parent.filename}/"


def _below(parent: Document, item: NewDocument) -> str:
    return _folder_of(parent) + (item.source_path or item.filename)
