"""Documents written straight into the database, in bulk, for the benches that read at scale
(bench/api_pages.py, bench/api_p95.py): processing 500,000 files would take hours and measure
the workers, not the reads.

`fill` writes `count` documents in batches of 1,000 (each batch's documents share a
created_at, as a batch upload's do), 10,000 rows per INSERT, with the counting triggers off
and the counters recounted once at the end (store/counts.py), which is what the triggers
would have left. The mix is a service half-way through its day:

    95% completed or failed (one in 20 failed, under four codes), the newest 2% still queued
    (one in ten of those processing); finished_at spread over the last ~40 hours
    8 types; one completed document in 10 needs review; one in 25 carries a warning
    folders like 2021/q3/dept4/f123.pdf (5 years x 4 quarters x 7 departments)
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert

from docflow.search import SearchDocument
from docflow.store import Batch, Document, DocumentStatus, Extraction, Store
from docflow.store.counts import drop_triggers, install_triggers, recount
from docflow.store.models import utcnow

BATCH = 1000
CHUNK = 10_000
TYPES = ("invoice", "letter", "receipt", "contract", "report", "memo", "form", "cv")
ERRORS = (("corrupt", "The PDF's structure is broken."),
          ("encrypted", "The document is password-protected."),
          ("unsupported_format", "This kind of file is not read."),
          ("timeout", "Processing took longer than the time limit."))
WARNINGS = ("no_text", "partial", "truncated")
WORDS = [f"w{i}" for i in range(3000)]
SECONDS_APART = 0.3  # between one document's end and the next: 12,000 an hour


@dataclass(frozen=True)
class Generated:
    count: int
    batch_ids: list[str]  # oldest first
    started: datetime  # the first document's created_at


def _status(n: int, count: int) -> tuple[str, tuple[str, str] | None]:
    if n >= count - count // 50:  # the newest 2%: still waiting
        return (DocumentStatus.PROCESSING if n % 10 == 0 else DocumentStatus.QUEUED), None
    if n % 20 == 0:
        return DocumentStatus.FAILED, ERRORS[(n // 20) % len(ERRORS)]
    return DocumentStatus.COMPLETED, None


def source_path(n: int) -> str:
    return f"{2020 + n % 5}/q{n % 4 + 1}/dept{n % 7}/f{n}.pdf"


def text_of(n: int) -> str:
    """About 40 words from a 3,000-word vocabulary, the same for the same n."""
    return " ".join(WORDS[(n * 7919 + k * 104729) % len(WORDS)] for k in range(40)) + (
        " common" if n % 3 == 0 else "")


def document_id(n: int) -> str:
    """Random-looking (as uuid4 hex ids are), yet known again without reading the database."""
    return hashlib.md5(f"doc {n}".encode()).hexdigest()


def rows(count: int, started: datetime, now: datetime,
         ) -> Iterator[tuple[list[dict], list[dict]]]:
    """(batches, documents) dicts, CHUNK documents at a time."""
    batch_id = ""
    for first in range(0, count, CHUNK):
        batches, docs = [], []
        for n in range(first, min(count, first + CHUNK)):
            if n % BATCH == 0:
                batch_id = uuid.uuid4().hex
                created = started + timedelta(seconds=n * SECONDS_APART)
                batches.append({"id": batch_id, "name": f"scans {n // BATCH}",
                                "source": "batch-api", "document_count": min(BATCH, count - n),
                                "created_at": created})
            status, error = _status(n, count)
            done = status in (DocumentStatus.COMPLETED, DocumentStatus.FAILED)
            completed = status == DocumentStatus.COMPLETED
            warning = WARNINGS[(n // 25) % 3] if completed and n % 25 == 3 else None
            docs.append({
                "id": document_id(n), "task_id": str(uuid.uuid4()), "batch_id": batch_id,
                "filename": f"f{n}.pdf", "source_path": source_path(n),
                "sha256": f"{n:064x}", "size": 20_000 + n % 5000, "status": status,
                "format": "pdf" if done else None,
                "mime_type": "application/pdf" if done else None,
                "page_count": 1 + n % 4 if completed else None,
                "error_code": error[0] if error else None,
                "error_message": error[1] if error else None,
                "warnings": [{"code": warning, "message": f"{warning} on a page"}]
                if warning else None,
                "warning_codes": warning,
                "doc_type": TYPES[n % len(TYPES)] if completed else None,
                "doc_type_confidence": 0.5 + (n % 50) / 100 if completed else None,
                "classifier": "rules" if completed else None,
                "needs_review": completed and n % 10 == 0,
                "attempts": 1 if done or status == DocumentStatus.PROCESSING else 0,
                "indexed": completed, "created_at": created,
                "finished_at": now - timedelta(seconds=(count - n) * SECONDS_APART)
                if done else None})
        yield batches, docs


def fill(store: Store, count: int) -> Generated:
    """`count` documents (see the module's note), counted once at the end."""
    batch_ids: list[str] = []
    now = utcnow()
    started = now - timedelta(seconds=count * SECONDS_APART + 120)
    with store.db.engine.begin() as conn:
        drop_triggers(conn)
    try:
        for batches, docs in rows(count, started, now):
            with store.db.write() as session:
                if batches:
                    session.execute(insert(Batch), batches)
                session.execute(insert(Document), docs)
            batch_ids += [b["id"] for b in batches]
    finally:
        with store.db.engine.begin() as conn:
            install_triggers(conn)
    recount(store.db)
    if not store.db.is_sqlite:  # what autovacuum does on a live server (inserts, PG 13+)
        with store.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return Generated(count, batch_ids, started)


def search_documents(generated: Generated) -> Iterator[SearchDocument]:
    """What the indexer would have handed over for the completed ones."""
    count, batch_ids, started = generated.count, generated.batch_ids, generated.started
    for n in range(count):
        if _status(n, count)[0] != DocumentStatus.COMPLETED:
            continue
        yield SearchDocument(id=document_id(n), filename=f"f{n}.pdf",
                             doc_type=TYPES[n % len(TYPES)], batch_id=batch_ids[n // BATCH],
                             text=text_of(n),
                             source_path=source_path(n),
                             created_at=started + timedelta(seconds=(n // BATCH) * BATCH
                                                            * SECONDS_APART))


def add_text(store: Store, doc_id: str, original: bytes, text: str,
             fields: list[dict]) -> None:
    """Give one generated document a real original, its text and fields (the document page
    reads them)."""
    from sqlalchemy import update

    blob = store.blobs.put_stream(io.BytesIO(original))
    with store.db.write() as session:
        if session.get(Extraction, blob.sha256) is None:
            session.add(Extraction(sha256=blob.sha256, format="pdf", mime_type="application/pdf",
                                   text=text, pages=[text], page_count=1))
        session.execute(update(Document).where(Document.id == doc_id).values(
            sha256=blob.sha256, size=len(original), fields=fields))
