"""Documents: registering them, the claim/lease protocol workers follow, and reading them back.

A row is written (`queued`) before its task is sent. A worker claims it (`processing`, a lease
and an attempt number), and its attempt number is the fencing token: a worker whose lease was
taken over can no longer write results.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from docflow.store.blobs import StoredBlob
from docflow.store.models import Document, DocumentStatus, Extraction, utcnow
from docflow.store.scope import DEFAULT_TENANT, current_scope, current_tenant

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SEPARATORS = re.compile(r"[\\/]")
_DRIVE = re.compile(r"^[A-Za-z]:$")
MAX_NAME = 255
MAX_SOURCE_PATH = 1024
# A document whose bytes another is being processed for looks again this often at most.
TWIN_WAIT_SECONDS = 10.0
IN_CHUNK = 500  # values per `IN (...)` list
ANY_WARNING = "any"  # the warning filter's value for "with any warning"
SHORTENED = "\N{HORIZONTAL ELLIPSIS}"  # the folder segment standing for those cut from a long path


def clean_filename(name: str | None) -> str:
    """The last path component, without control characters, at most 255 characters, NFC."""
    base = _SEPARATORS.split(unicodedata.normalize("NFC", name or ""))[-1].strip()
    base = _CONTROL.sub("\N{REPLACEMENT CHARACTER}", base)
    if base in ("", ".", ".."):
        base = "unnamed"
    return base[:MAX_NAME]


def clean_source_path(name: str | None) -> str | None:
    """Where the file sat in the folder it was uploaded from: "2019/q1/invoice.pdf".

    Separators become "/"; a leading "/" or drive ("C:") and "." or empty segments go; ".."
    takes back the folder before it and never climbs above the root; control characters become
    U+FFFD; NFC, so a path sent from macOS (NFD) matches the same path typed elsewhere. The last
    segment is the document's filename (clean_filename). Past 1024 characters the deepest
    folders are cut and replaced by one "…" segment; the filename is always kept. A plain name
    is a path with no folders; None only when nothing was named.
    """
    if name is None or not name.strip():
        return None
    *segments, _ = _SEPARATORS.split(unicodedata.normalize("NFC", name))
    if segments and _DRIVE.match(segments[0]):
        segments = segments[1:]
    folders: list[str] = []
    for segment in (s.strip() for s in segments):
        if segment == "..":
            if folders:
                folders.pop()
        elif segment not in ("", "."):
            folders.append(_CONTROL.sub("\N{REPLACEMENT CHARACTER}", segment)[:MAX_NAME])
    filename = clean_filename(name)
    path = "/".join([*folders, filename])
    if len(path) <= MAX_SOURCE_PATH:
        return path
    kept: list[str] = []
    room = MAX_SOURCE_PATH - len(filename) - len(SHORTENED) - 1
    for folder in folders:
        if len(folder) + 1 > room:
            break
        kept.append(folder)
        room -= len(folder) + 1
    return "/".join([*kept, SHORTENED, filename])


def path_prefix_bounds(prefix: str) -> tuple[str, str | None]:
    """The range [low, high) holding exactly the paths that start with `prefix` (cleaned as
    stored paths are), in code point order: SQLite's and PostgreSQL's "C" collation. High is the
    prefix with its last character raised by one (None when nothing sorts above it); a fixed
    bound such as prefix + U+FFFF would leave out names with characters past U+FFFF (emoji)."""
    low = _CONTROL.sub("\N{REPLACEMENT CHARACTER}",
                       unicodedata.normalize("NFC", prefix.replace("\\", "/")).lstrip("/"))
    stem = low
    while stem:
        code = ord(stem[-1]) + 1
        if code == 0xD800:  # surrogates are no characters: step over them
            code = 0xE000
        if code <= 0x10FFFF:
            return low, stem[:-1] + chr(code)
        stem = stem[:-1]
    return low, None


def path_prefix_conditions(prefix: str) -> list[ColumnElement[bool]]:
    """Documents whose source_path starts with `prefix` (path_prefix_bounds). A range, not
    LIKE: it uses the plain index on both databases, and "%" or "_" in a folder's name mean
    themselves."""
    low, high = path_prefix_bounds(prefix)
    conditions = [Document.source_path >= low]
    if high is not None:
        conditions.append(Document.source_path < high)
    return conditions


@dataclass(frozen=True)
class NewDocument:
    filename: str  # as sent: a name or a relative path ("2019/invoice.pdf")
    blob: StoredBlob
    idempotency_key: str | None = None  # the client's key for this file, unique when set
    # Where it sits when that is not `filename` (an archive member: "scans.zip/a/b.pdf").
    source_path: str | None = None


def register_documents(session: Session, items: Sequence[NewDocument],
                       batch_id: str | None = None,
                       tenant_id: str | None = None) -> list[Document]:
    """Create one row per item, in `tenant_id` (default: the tenant in scope). Bytes already
    processed reuse that result instead of a task, unless they had attachments or members: a
    worker then copies the result and the children. Only the tenant's own documents lend
    their result: another tenant's would name its document (reused_from) and carry its
    corrections."""
    now = utcnow()
    tenant = tenant_id or current_tenant()
    donors = _completed_by_sha(session, {item.blob.sha256 for item in items}, tenant)
    with_children = _having_children(session, [d.id for d in donors.values()])
    donors = {sha: d for sha, d in donors.items() if d.id not in with_children}
    docs = []
    for item in items:
        doc = Document(batch_id=batch_id, tenant_id=tenant, filename=clean_filename(item.filename),
                       source_path=clean_source_path(item.source_path or item.filename),
                       idempotency_key=item.idempotency_key, sha256=item.blob.sha256,
                       size=item.blob.size, created_at=now,
                       status=DocumentStatus.QUEUED, enqueued_at=now, attempts=0,
                       indexed=False)
        donor = donors.get(item.blob.sha256)
        if donor is not None:
            copy_result(donor, doc, now)
        docs.append(doc)
    session.add_all(docs)
    session.flush()
    return docs


def _in_chunks(values: Iterable[str]) -> Iterator[list[str]]:
    """The distinct values, sorted, in lists short enough for one `IN (...)` each."""
    unique = sorted(set(values))
    for start in range(0, len(unique), IN_CHUNK):
        yield unique[start:start + IN_CHUNK]


def _completed_by_sha(session: Session, shas: set[str],
                      tenant: str = DEFAULT_TENANT) -> dict[str, Document]:
    donors: dict[str, Document] = {}
    for chunk in _in_chunks(shas):
        rows = session.scalars(select(Document).where(
            Document.sha256.in_(chunk), Document.status == DocumentStatus.COMPLETED,
            Document.tenant_id == tenant))
        for row in rows:
            donors.setdefault(row.sha256, row)
    return donors


def _having_children(session: Session, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _in_chunks(ids):
        found.update(p for p in session.scalars(select(Document.parent_id).where(
            Document.parent_id.in_(chunk)).distinct()) if p is not None)
    return found


def find_by_idempotency_keys(session: Session, keys: Sequence[str]) -> dict[str, Document]:
    """The documents already created for these client keys, by key."""
    found: dict[str, Document] = {}
    for chunk in _in_chunks(keys):
        for row in session.scalars(select(Document).where(Document.idempotency_key.in_(chunk))):
            found[row.idempotency_key or ""] = row
    return found


# The claim's statements, built once: building a statement and its cache key cost a small
# document's claim three times what SQLite took to run it (bench/group_task.py).
_PROCESSING_TWIN = select(Document).where(
    Document.sha256 == bindparam("sha256"), Document.id != bindparam("doc_id"),
    Document.tenant_id == bindparam("tenant_id"), Document.status == DocumentStatus.PROCESSING,
    (Document.lease_until > bindparam("now")) | Document.ocr_parts.is_not(None)).limit(1)
_COMPLETED_TWIN = select(Document).where(
    Document.sha256 == bindparam("sha256"), Document.status == DocumentStatus.COMPLETED,
    Document.id != bindparam("doc_id"),
    Document.tenant_id == select(Document.tenant_id).where(
        Document.id == bindparam("doc_id")).scalar_subquery()).limit(1)
# session.get(Document, id, with_for_update=True), as one statement built once.
_LOCKED = (select(Document).where(Document.id == bindparam("doc_id")).with_for_update()
           .execution_options(populate_existing=True))


def _processing_twin(session: Session, doc: Document, now: datetime) -> Document | None:
    """Another document with the same bytes that is being processed now: held under a running
    lease, or split into OCR parts."""
    # A row not yet flushed has no tenant yet: the one it will be given.
    tenant = doc.tenant_id or current_tenant()
    return session.scalars(_PROCESSING_TWIN, {"sha256": doc.sha256, "doc_id": doc.id,
                                              "tenant_id": tenant, "now": now}).first()


def find_completed_twin(session: Session, sha256: str, exclude_id: str) -> Document | None:
    """A completed document of the same tenant as `exclude_id` with these bytes."""
    # Uses ix_documents_sha256_status (tests/store/test_query_plans.py).
    return session.scalars(_COMPLETED_TWIN, {"sha256": sha256, "doc_id": exclude_id}).first()


def _locked(session: Session, doc_id: str) -> Document | None:
    """The document, its row locked for this transaction (PostgreSQL; SQLite's write
    transactions lock the whole database)."""
    return session.scalars(_LOCKED, {"doc_id": doc_id}).first()


def copy_result(donor: Document, doc: Document, now: datetime) -> None:
    """Give `doc` the finished result of a document with the same bytes."""
    doc.status = DocumentStatus.COMPLETED
    doc.format = donor.format
    doc.mime_type = donor.mime_type
    doc.page_count = donor.page_count
    doc.doc_type = donor.doc_type
    doc.doc_type_confidence = donor.doc_type_confidence
    doc.classifier = donor.classifier
    doc.model_version = donor.model_version
    doc.needs_review = donor.needs_review
    doc.fields = donor.fields
    doc.embedding = donor.embedding
    doc.embedding_model = donor.embedding_model
    doc.passages = donor.passages
    doc.warnings = donor.warnings
    doc.warning_codes = donor.warning_codes
    doc.reused_from = donor.reused_from or donor.id
    doc.error_code = doc.error_message = None
    doc.finished_at = now
    doc.lease_until = None
    doc.indexed = False


class ClaimOutcome(Enum):
    CLAIMED = "claimed"
    DONE = "done"  # already completed or failed: nothing to do
    BUSY = "busy"  # another live worker holds the lease
    SPLIT = "split"  # its OCR runs in page-range parts (store.ocr_parts); they finish it
    TWIN_BUSY = "twin busy"  # the same bytes are being processed for another document now
    MISSING = "missing"
    EXHAUSTED = "exhausted"  # too many attempts: failed now


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    attempt: int = 0
    lease_until: datetime | None = None
    # What the task needs next, read in the claim's transaction (CLAIMED only).
    sha256: str = ""
    filename: str = ""
    twin_id: str | None = None  # a completed document with the same bytes: take its result
    tenant_id: str = DEFAULT_TENANT  # whose types, hints and model read it


def claim(session: Session, doc_id: str, *, worker: str, host: str, pid: int,
          lease_seconds: float, max_attempts: int,
          holder_gone: Callable[[Document], bool]) -> Claim:
    """Take a document for processing, unless it is finished or a live worker holds it."""
    now = utcnow()
    doc = _locked(session, doc_id)
    if doc is None:
        return Claim(ClaimOutcome.MISSING)
    if doc.status in DocumentStatus.TERMINAL:
        return Claim(ClaimOutcome.DONE)
    if doc.status == DocumentStatus.PROCESSING and doc.ocr_parts:
        return Claim(ClaimOutcome.SPLIT)
    if (doc.status == DocumentStatus.PROCESSING and doc.lease_until is not None
            and doc.lease_until > now and not holder_gone(doc)):
        return Claim(ClaimOutcome.BUSY, lease_until=doc.lease_until)
    twin = _processing_twin(session, doc, now)
    if twin is not None and not holder_gone(twin):
        # Wait for its result rather than read the same bytes twice; a twin that fails or whose
        # worker dies leaves this document to be processed on its own.
        wait_until = now + timedelta(seconds=TWIN_WAIT_SECONDS)
        if twin.lease_until is not None:
            wait_until = min(wait_until, twin.lease_until)
        return Claim(ClaimOutcome.TWIN_BUSY, lease_until=wait_until)
    if doc.attempts >= max_attempts:
        mark_failed(doc, "worker_lost", f"Processing was interrupted {doc.attempts} times (the "
                    "worker died or ran out of time); the document was given up so it cannot "
                    "take more workers down.", now)
        return Claim(ClaimOutcome.EXHAUSTED)
    doc.status = DocumentStatus.PROCESSING
    doc.attempts += 1
    doc.worker, doc.worker_host, doc.worker_pid = worker, host, pid
    doc.lease_until = now + timedelta(seconds=lease_seconds)
    doc.started_at = now
    twin = find_completed_twin(session, doc.sha256, doc.id)
    return Claim(ClaimOutcome.CLAIMED, attempt=doc.attempts, lease_until=doc.lease_until,
                 sha256=doc.sha256, filename=doc.filename,
                 twin_id=twin.id if twin is not None else None, tenant_id=doc.tenant_id)


def held(session: Session, doc_id: str, attempt: int) -> Document | None:
    """The document, locked, if this attempt still holds it; None when the claim was lost."""
    doc = _locked(session, doc_id)
    if doc is None or doc.status != DocumentStatus.PROCESSING or doc.attempts != attempt:
        return None
    return doc


def renew_lease(session: Session, doc_id: str, attempt: int, lease_seconds: float) -> bool:
    """False once the lease is gone: taken over, finished, or handed to OCR parts."""
    result = session.execute(
        update(Document)
        .where(Document.id == doc_id, Document.status == DocumentStatus.PROCESSING,
               Document.attempts == attempt, Document.lease_until.is_not(None))
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds)))
    return result.rowcount == 1  # type: ignore[attr-defined]


def mark_failed(doc: Document, code: str, message: str, now: datetime | None = None) -> None:
    doc.status = DocumentStatus.FAILED
    doc.error_code = code
    doc.error_message = message
    set_warnings(doc, [])  # a failure's reason says it all; warnings belong to completed ones
    doc.finished_at = now or utcnow()
    doc.lease_until = None
    doc.ocr_parts = None
    doc.indexed = False


def set_warnings(doc: Document, warnings: Sequence[Mapping[str, str]]) -> None:
    """Record a completed document's warnings ({code, message} each), and their codes for
    counting and filtering; no warnings stores NULL in both."""
    kept = [{"code": w["code"], "message": w["message"]} for w in warnings]
    doc.warnings = kept or None
    doc.warning_codes = ",".join(sorted({w["code"] for w in kept})) or None


def warning_code_condition(code: str) -> ColumnElement[bool]:
    """Documents with warning `code` ("any": with any warning)."""
    if code == ANY_WARNING:
        return Document.warning_codes.is_not(None)
    # Whole codes only: "no_text" must not match a future "no_text_layer".
    return ("," + Document.warning_codes + ",").contains(f",{code},", autoescape=True)


def release(doc: Document) -> None:
    """Give a claimed document back to the queue (before a retry of a transient error)."""
    doc.status = DocumentStatus.QUEUED
    doc.lease_until = None
    doc.ocr_parts = None
    doc.enqueued_at = utcnow()


def save_extraction(session: Session, sha256: str, *, format: str, mime_type: str, text: str,
                    pages: list[str], page_count: int) -> None:
    """Store the text of an original once; a concurrent twin writing the same row is harmless."""
    values: dict[str, Any] = dict(sha256=sha256, format=format, mime_type=mime_type, text=text,
                                  pages=pages, page_count=page_count, created_at=utcnow())
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(Extraction).values(**values).on_conflict_do_nothing())


def get_text(session: Session, sha256: str) -> str | None:
    return session.scalar(select(Extraction.text).where(Extraction.sha256 == sha256))


def source_paths(session: Session, ids: Sequence[str]) -> dict[str, str | None]:
    """Each document's source_path, by id (ids not found, or another tenant's, are left out)."""
    found: dict[str, str | None] = {}
    for chunk in _in_chunks(ids):
        for doc_id, path in session.execute(by_ids_in_scope(
                [DOCUMENTS.c.id, DOCUMENTS.c.source_path], chunk)):
            found[doc_id] = path
    return found


DOCUMENTS = Document.__table__


def by_ids_in_scope(columns: Sequence[Any], ids: Sequence[str]) -> Any:
    """A Core select of `columns` of the documents with these ids, by primary key, within the
    request's tenant. The tenant is compared through a function, which no index serves: with the
    bare column (as the scope's ORM filter writes it) SQLite without statistics reads the
    tenant's whole (tenant_id, source_path) index, O(documents), not `len(ids)` key lookups."""
    statement = select(*columns).where(DOCUMENTS.c.id.in_(list(ids)))
    scope = current_scope()
    if scope is not None:
        statement = statement.where(func.coalesce(DOCUMENTS.c.tenant_id, "") == scope.tenant)
    return statement


def get_by_task(session: Session, task_id: str) -> Document | None:
    return session.scalars(select(Document).where(Document.task_id == task_id)).first()
