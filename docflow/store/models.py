"""The tables: documents, batches, workers, OCR parts, and the text of each stored original."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from docflow.store.scope import DEFAULT_TENANT, current_tenant


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone, so attach UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


SOURCE_PATH = String(1024).with_variant(String(1024, collation="C"), "postgresql")


class DocumentStatus:
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"  # a user stopped it; not a failure
    ALL = (QUEUED, PROCESSING, COMPLETED, FAILED, CANCELLED)
    TERMINAL = (COMPLETED, FAILED, CANCELLED)


# Whose row it is (docflow.store.tenants): a new row takes the tenant of the request's scope.
TENANT = String(100)


class Batch(Base):
    __tablename__ = "batches"
    __table_args__ = (
        # A client's key is its tenant's: two tenants may use the same one (migration 0014).
        Index("ix_batches_idempotency_key", "idempotency_key", "tenant_id", unique=True),
        # A tenant's batches, newest first, a page at a time (migration 0017).
        Index("ix_batches_tenant_created", "tenant_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(TENANT, default=current_tenant,
                                           server_default=DEFAULT_TENANT)
    name: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(20))  # upload, batch-upload, ingest, batch-api
    document_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A client's key for "create this batch": a retried request gets the same batch back.
    idempotency_key: Mapped[str | None] = mapped_column(String(200))


class Extraction(Base):
    """The text of one stored original, keyed by its SHA-256: identical bytes are read once."""

    __tablename__ = "extractions"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    format: Mapped[str] = mapped_column(String(40))
    mime_type: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    pages: Mapped[list[str]] = mapped_column(JSON)
    page_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The documents ix_documents_failed_code holds (GET /metrics' failures by code).
FAILED_WITH_CODE = "status = 'failed' AND error_code IS NOT NULL"


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        # Batch progress counts statuses and warnings from this index alone (migration 0010).
        # ... and the tenant's filter on it, so it still reads no row (migration 0014).
        Index("ix_documents_batch_status_warnings", "batch_id", "status", "warning_codes",
              "tenant_id"),
        Index("ix_documents_status_indexed", "status", "indexed"),
        Index("ix_documents_status_lease", "status", "lease_until"),
        # The duplicate check: both terms in one index, so no planner prefers the status index.
        # With the tenant last: reuse is within a tenant, so its filter reads this index too.
        Index("ix_documents_sha256_status", "sha256", "status", "tenant_id"),
        # A tenant's listing, oldest first: it replaced (created_at) in migration 0014, since
        # every listing is a tenant's. A client's key is its tenant's.
        Index("ix_documents_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_documents_idempotency_key", "idempotency_key", "tenant_id", unique=True),
        # Live events and throughput read documents in the order they finished (0015).
        Index("ix_documents_finished", "finished_at", "id"),
        Index("ix_documents_batch_finished", "batch_id", "finished_at", "id"),
        # What finished lately, by status (the overview's throughput and failures, the live
        # events): a range of the window, not every completed document (migration 0019).
        # Partial: only a query that bounds finished_at may read it, so it never wins SQLite's
        # tie (no statistics) against a batch's or the review queue's own index.
        Index("ix_documents_tenant_status_finished", "tenant_id", "status", "finished_at", "id",
              sqlite_where=text("finished_at IS NOT NULL"),
              postgresql_where=text("finished_at IS NOT NULL")),
        # A tenant's labels since its model was trained: what retraining waits for (0016).
        # Labelled documents only: on all of them, SQLite's statistics rate it a full scan.
        Index("ix_documents_tenant_labeled", "tenant_id", "labeled_at",
              sqlite_where=text("labeled_at IS NOT NULL"),
              postgresql_where=text("labeled_at IS NOT NULL")),
        # The listing's filters, each an index range already in the listing's order, so a page
        # starts at its cursor whatever the filter (docflow.store.listing, migration 0017).
        # They replaced the one-column indexes on doc_type, needs_review, source_path and
        # parent_id, which the other lookups read as well through these.
        Index("ix_documents_tenant_status_created", "tenant_id", "status", "created_at", "id"),
        Index("ix_documents_tenant_type_created", "tenant_id", "doc_type", "created_at", "id"),
        # The last column of the next three is read from the index, not the row (0020): the
        # review queue's count checks the status; a page by folder or by warning code picks
        # its keys from the index alone and reads only its own rows (listing.KEYS_FIRST).
        Index("ix_documents_tenant_review_created", "tenant_id", "needs_review", "created_at",
              "id", "status"),
        Index("ix_documents_tenant_warned_created", "tenant_id", "created_at", "id",
              "warning_codes", sqlite_where=text("warning_codes IS NOT NULL"),
              postgresql_where=text("warning_codes IS NOT NULL")),
        Index("ix_documents_tenant_path", "tenant_id", "source_path", "id", "created_at"),
        Index("ix_documents_batch_created", "batch_id", "created_at", "id"),
        Index("ix_documents_batch_status_created", "batch_id", "status", "created_at", "id"),
        Index("ix_documents_parent_created", "parent_id", "created_at", "id"),
        # GET /metrics counts failed documents by code: from the failed ones' entries alone,
        # not by reading every document (0021). The status and the tenant in it, so SQLite
        # reads no row to check them; after the code, so no lookup by tenant and status (a
        # batch's failures) can seek into it; and only for a WHERE that says the code is set,
        # or SQLite with statistics reads it for the last hour's failures by code.
        Index("ix_documents_failed_code", "error_code", "status", "tenant_id",
              sqlite_where=text(FAILED_WITH_CODE), postgresql_where=text(FAILED_WITH_CODE)),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(TENANT, default=current_tenant,
                                           server_default=DEFAULT_TENANT)
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id"))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    task_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    filename: Mapped[str] = mapped_column(String(1000))
    # Where the file sat in the uploaded folder, "/"-separated ("2019/invoice.pdf"; a member of
    # an archive: "2019/scans.zip/a.pdf"); None before migration 0009. Compared in code point
    # order ("C" on PostgreSQL, SQLite's own), so a prefix is an index range on both.
    source_path: Mapped[str | None] = mapped_column(SOURCE_PATH)
    # A client's key for one file (see the batch upload client): sent twice, stored once.
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str | None] = mapped_column(String(40))
    mime_type: Mapped[str | None] = mapped_column(String(200))
    page_count: Mapped[int | None] = mapped_column(Integer)

    status: Mapped[str] = mapped_column(String(20), default=DocumentStatus.QUEUED)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)

    # What a person should know about a completed document: [{code, message}] (pipeline
    # DocumentWarning), and their codes sorted and comma-joined ("no_text,truncated") so that
    # batch progress and the warning filter read an index, never the JSON. NULL: none.
    warnings: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    warning_codes: Mapped[str | None] = mapped_column(String(200))

    doc_type: Mapped[str | None] = mapped_column(String(100))
    doc_type_confidence: Mapped[float | None] = mapped_column(Float)
    classifier: Mapped[str | None] = mapped_column(String(40))
    model_version: Mapped[str | None] = mapped_column(String(100))
    # Low-confidence types wait for a person: GET /api/documents?needs_review=true.
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The type a person set or confirmed (PATCH /api/documents/{id}): a label to learn from.
    labeled_type: Mapped[str | None] = mapped_column(String(100))
    labeled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fields: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # The text's sentence embedding (float32, little-endian), computed once while classifying
    # (DOCFLOW_ZERO_SHOT) and read by semantic search; only vectors of one model compare.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(String(100))
    # The text's passage embeddings for search: [n, dim] float16 (little-endian), same model.
    passages: Mapped[bytes | None] = mapped_column(LargeBinary)
    reused_from: Mapped[str | None] = mapped_column(String(32))

    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    worker_host: Mapped[str | None] = mapped_column(String(200))
    worker_pid: Mapped[int | None] = mapped_column(Integer)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    indexed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set while the attempt's OCR runs as page-range parts (see OcrPart): no worker holds the
    # document then, so it has no lease; the parts have theirs.
    ocr_parts: Mapped[int | None] = mapped_column(Integer)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OcrPartStatus:
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"  # its document failed, or a later attempt split it again
    OPEN = (QUEUED, PROCESSING)


class OcrPart(Base):
    """Pages first..last of a long scanned PDF, OCR'd by a task of its own.

    A part belongs to one attempt at its document: a document processed again is split again,
    and parts of an earlier attempt can no longer write anything (the attempt is the fence).
    """

    __tablename__ = "ocr_parts"
    __table_args__ = (
        UniqueConstraint("document_id", "attempt", "first_page"),
        Index("ix_ocr_parts_status_lease", "status", "lease_until"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    first_page: Mapped[int] = mapped_column(Integer)
    last_page: Mapped[int] = mapped_column(Integer)
    task_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    status: Mapped[str] = mapped_column(String(20), default=OcrPartStatus.QUEUED)
    # One dict per page (pipeline PageText: number, text, ocr, confidence, warning, failed).
    pages: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    error_code: Mapped[str | None] = mapped_column(String(40))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    worker_host: Mapped[str | None] = mapped_column(String(200))
    worker_pid: Mapped[int | None] = mapped_column(Integer)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Worker(Base):
    """One Celery worker node, as its own heartbeats describe it."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    queues: Mapped[str] = mapped_column(String(200), default="default")
    status: Mapped[str] = mapped_column(String(20), default="online")  # online | stopped
    active_tasks: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_heartbeat: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DocumentType(Base):
    """A kind of document a tenant sorts by: the built-in set at first, then theirs. A name is
    unique per tenant; each tenant edits its own copy (migration 0016)."""

    __tablename__ = "document_types"

    tenant_id: Mapped[str] = mapped_column(TENANT, primary_key=True, default=current_tenant,
                                           server_default=DEFAULT_TENANT)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)  # phrase -> weight
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FieldLabel(Base):
    """A field a person set on a document (PATCH /api/documents/{id}), with what it teaches:
    the label printed before the value and the document's issuer (see pipeline fields/learned)."""

    __tablename__ = "field_labels"
    __table_args__ = (
        # A tenant's hints are grouped from its own labels alone (migration 0016).
        Index("ix_field_labels_tenant_doc_type", "tenant_id", "doc_type"),
    )

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"),
                                             primary_key=True)
    field: Mapped[str] = mapped_column(String(100), primary_key=True)
    # Its document's tenant: a correction teaches that tenant's workers only.
    tenant_id: Mapped[str] = mapped_column(TENANT, default=current_tenant,
                                           server_default=DEFAULT_TENANT)
    doc_type: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str | None] = mapped_column(String(20))  # money, date, identifier, ...
    value: Mapped[str] = mapped_column(Text)
    anchor: Mapped[str | None] = mapped_column(String(200))  # None: no label before the value
    issuer: Mapped[str | None] = mapped_column(String(500))  # the document's vendor, if known
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
