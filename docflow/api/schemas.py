"""The JSON shapes of the API (the contract in DESIGN.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from docflow.store import Document

SOURCE_PATH_HELP = ("Where the file sat in the uploaded folder, '/'-separated "
                    "('2019/invoice.pdf'): the relative path sent as the file part's filename "
                    "(as browsers send for a folder, and `docflow upload`), or the path under "
                    "the folder `docflow ingest` read; just the filename when no folder was "
                    "sent. An attachment or archive member's is its parent's path, then its "
                    "path inside ('2019/mail.eml/invoice.pdf'). null for documents stored "
                    "before paths were kept.")


class DocumentError(BaseModel):
    code: str = Field(description="Stable reason code, e.g. corrupt, encrypted, empty.")
    message: str = Field(description="What went wrong, in a sentence.")


class DocumentWarningOut(BaseModel):
    code: str = Field(description="Stable warning code: no_text (readable, but no text even "
                      "after OCR), partial (some pages or parts could not be read and were "
                      "skipped; the message names them), "
                      "truncated (text cut at the text limit).")
    message: str = Field(description="What to know, in a sentence.")


WARNINGS_HELP = ("Things to know about a completed document; it did not fail. Empty when there "
                 "are none.")


def warnings_of(doc: Document) -> list[DocumentWarningOut]:
    return [DocumentWarningOut(**w) for w in doc.warnings or []]


class DocType(BaseModel):
    name: str
    confidence: float = Field(description="0 to 1.")
    decider: str | None = Field(None, description="Which classifier chose it.")
    model_version: str | None = Field(None, description="The model that chose it, if any.")


class ExtractedField(BaseModel):
    name: str
    value: str = Field(description="The text as it appears in the document.")
    normalized: str = Field(description="ISO date, '12.50 EUR', lower-case e-mail, E.164 phone.")
    start: int = Field(description="Character offset of the evidence in the text; -1 for a "
                       "value a person set that is not printed in it.")
    end: int
    confidence: float
    source: str = Field("extracted", description="'extracted' by the rules; 'learned': read "
                        "after the words people's corrections of this field taught (for this "
                        "type, or this issuer); 'user': set by a person (a label).")
    labeled_at: datetime | None = Field(None, description="When a person set it (source "
                                        "'user').")


class UploadResponse(BaseModel):
    document_id: str
    task_id: str
    status: str
    filename: str
    source_path: str | None = Field(None, description=SOURCE_PATH_HELP)


class AppendedDocumentOut(BaseModel):
    document_id: str
    task_id: str
    status: str
    filename: str
    source_path: str | None = Field(None, description=SOURCE_PATH_HELP)
    batch_id: str | None = Field(description="The batch holding the document: another one "
                                 "when its key was first sent there.")
    idempotency_key: str | None
    created: bool = Field(description="False when the key was seen before: this is the "
                          "document that request created, not a new one.")


class BatchUploadResponse(BaseModel):
    batch_id: str = Field(description="The batch made for the new files; when every file's "
                          "key was seen before, the batch of the first one.")
    document_count: int = Field(description="Documents in that batch.")
    status: str
    created: int = Field(description="New documents made by this request.")
    existing: int = Field(description="Files whose idempotency key was already known.")
    documents: list[AppendedDocumentOut]


class UploadLimits(BaseModel):
    max_files_per_batch: int = Field(description="Most documents in one batch, and in one "
                                     "request.")
    max_file_bytes: int = Field(description="Largest single document; larger ones get 413.")


class BatchCreate(BaseModel):
    name: str | None = Field(None, max_length=500, description="Optional name for the batch.")


class BatchOut(BaseModel):
    batch_id: str
    name: str | None
    source: str = Field(description="How it was made: batch-upload, ingest, batch-api.")
    document_count: int = Field(description="Documents in the batch so far.")
    created_at: datetime


class BatchAppendResponse(BaseModel):
    batch_id: str
    document_count: int = Field(description="Documents in the batch after this request.")
    created: int = Field(description="New documents made by this request.")
    existing: int = Field(description="Files whose idempotency key was already known.")
    documents: list[AppendedDocumentOut]


class TaskStatus(BaseModel):
    task_id: str
    document_id: str
    status: str
    attempts: int
    error: DocumentError | None
    warnings: list[DocumentWarningOut] = Field(default_factory=list, description=WARNINGS_HELP)


class BatchStatus(BaseModel):
    batch_id: str
    total: int
    completed: int
    processing: int
    queued: int
    failed: int
    cancelled: int = Field(0, description="Stopped by a user (POST /api/batches/{id}/cancel); "
                           "finished, not failed.")
    progress_percent: float
    with_warnings: int = Field(0, description="Completed documents that carry warnings (see "
                               "`warnings`); `completed` counts them too.")
    warnings: dict[str, int] = Field(default_factory=dict, description="Completed documents "
                                     "per warning code, e.g. {\"no_text\": 3}; list them with "
                                     "GET /api/documents?batch_id=...&warning=no_text.")


class WorkerOut(BaseModel):
    name: str
    hostname: str
    pid: int
    concurrency: int = Field(description="The most tasks it runs at once: its pool size, or "
                             "MAX of --autoscale MAX,MIN.")
    queues: list[str]
    active_tasks: int = Field(description="Tasks it is running now: documents and OCR parts "
                              "of long scans.")
    online: bool
    state: str = Field(description="online; lost (its heartbeat stopped: its documents are "
                       "sent again); or stopped (shut down cleanly).")
    started_at: datetime
    last_heartbeat: datetime


class WorkersResponse(BaseModel):
    worker_count: int = Field(description="Workers whose heartbeat is recent.")
    active_tasks: int = Field(description="Tasks running now (documents and OCR parts), "
                              "across online workers.")
    workers: list[WorkerOut]


class ComponentHealth(BaseModel):
    ok: bool
    detail: str


class HealthResponse(BaseModel):
    status: str = Field(description="'ok' or 'degraded'.")
    database: ComponentHealth
    broker: ComponentHealth
    workers: ComponentHealth


class SearchHitOut(BaseModel):
    id: str
    filename: str
    source_path: str | None = Field(None, description=SOURCE_PATH_HELP)
    doc_type: str | None
    score: float = Field(description="How well it matches (see `mode`); 0 when the hits are "
                         "ordered by date.")
    snippet: str = Field(description="Text around the match; matched terms as <b>term</b>. "
                         "A document found by meaning alone shows the start of its text.")


class SearchFacets(BaseModel):
    doc_type: dict[str, int] = Field(
        default_factory=dict, description="Matching documents per document type, over every "
        "match, not only this page (types with none are left out; documents without a type "
        "count in `total` only). Hybrid: the matches of its keyword side.",
        examples=[{"invoice": 12, "letter": 3}])


class SearchResponse(BaseModel):
    query: str
    mode: str = Field("keyword", description="keyword, semantic or hybrid, as asked.")
    sort: str = Field("relevance", description="relevance, date or date_asc, as asked.")
    total: int = Field(description="How many documents match (every match, not this page); "
                       "at least this many when `total_is_lower_bound`.")
    total_is_lower_bound: bool = Field(
        False, description="True when the search stopped counting at `total` and more "
        "documents match: the PostgreSQL search backend counts and ranks at most 1,000 "
        "matches of a keyword query (plus the first 1,000 holding all its words and the "
        "first 1,000 holding its phrase), the first it finds, so pages end there and the "
        "facets count those matches only; ordered by date, the hits are still the newest "
        "(oldest) of every match. Add a word or a filter to narrow it. Always false with the "
        "embedded (tantivy) backend, which counts every match.")
    limit: int
    offset: int
    hits: list[SearchHitOut]
    facets: SearchFacets | None = Field(None, description="Counts per document type of every "
                                        "match; null in semantic mode (ranked by meaning, it "
                                        "has no fixed set of matches) or with facets=false.")


class DocumentSummary(BaseModel):
    id: str
    filename: str
    source_path: str | None = Field(None, description=SOURCE_PATH_HELP)
    status: str
    error: DocumentError | None
    doc_type: str | None
    batch_id: str | None
    parent_id: str | None = Field(None, description="The e-mail or archive it came from.")
    needs_review: bool = Field(False, description="Its type was chosen with low confidence.")
    warnings: list[DocumentWarningOut] = Field(default_factory=list, description=WARNINGS_HELP)
    created_at: datetime


TOTAL_HELP = ("How many match, counted only when asked (`count=true`): counting reads every "
              "match, so it is null otherwise.")
NEXT_CURSOR_HELP = ("Send it as `cursor` (with the same order and filters) for the next page; "
                    "null on the last page.")
PREV_CURSOR_HELP = ("Send it as `cursor` for the page before this one; null on the first page.")


class DocumentList(BaseModel):
    total: int | None = Field(None, description=TOTAL_HELP)
    limit: int
    offset: int
    order: str = Field("oldest", description="The order of the pages: oldest, newest or path.")
    next_cursor: str | None = Field(None, description=NEXT_CURSOR_HELP)
    prev_cursor: str | None = Field(None, description=PREV_CURSOR_HELP)
    documents: list[DocumentSummary]


class DocumentDetail(BaseModel):
    id: str
    filename: str
    source_path: str | None = Field(None, description=SOURCE_PATH_HELP)
    status: str
    error: DocumentError | None
    doc_type: DocType | None
    fields: list[ExtractedField]
    text: str | None = Field(description="Extracted text, once completed.")
    batch_id: str | None
    parent_id: str | None
    task_id: str
    sha256: str
    size: int
    format: str | None
    mime_type: str | None
    page_count: int | None
    attempts: int
    needs_review: bool = Field(False, description="Its type was chosen with low confidence.")
    warnings: list[DocumentWarningOut] = Field(default_factory=list, description=WARNINGS_HELP)
    worker: str | None = Field(description="The worker that processed it last.")
    worker_pid: int | None = Field(description="Its process id on that worker's host.")
    reused_from: str | None = Field(description="Document whose identical bytes gave this result.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def error_of(doc: Document) -> DocumentError | None:
    if doc.error_code is None:
        return None
    return DocumentError(code=doc.error_code, message=doc.error_message or "")


def summary_of(doc: Document) -> DocumentSummary:
    return DocumentSummary(id=doc.id, filename=doc.filename, source_path=doc.source_path,
                           status=doc.status,
                           error=error_of(doc), doc_type=doc.doc_type, batch_id=doc.batch_id,
                           parent_id=doc.parent_id, needs_review=doc.needs_review,
                           warnings=warnings_of(doc), created_at=doc.created_at)


def detail_of(doc: Document, text: str | None) -> DocumentDetail:
    doc_type = None
    if doc.doc_type is not None:
        doc_type = DocType(name=doc.doc_type, confidence=doc.doc_type_confidence or 0.0,
                           decider=doc.classifier, model_version=doc.model_version)
    fields: list[dict[str, Any]] = doc.fields or []
    return DocumentDetail(
        id=doc.id, filename=doc.filename, source_path=doc.source_path, status=doc.status,
        error=error_of(doc),
        doc_type=doc_type, fields=[ExtractedField(**f) for f in fields], text=text,
        batch_id=doc.batch_id, parent_id=doc.parent_id, task_id=doc.task_id, sha256=doc.sha256,
        size=doc.size, format=doc.format, mime_type=doc.mime_type, page_count=doc.page_count,
        attempts=doc.attempts, needs_review=doc.needs_review, warnings=warnings_of(doc),
        worker=doc.worker,
        worker_pid=doc.worker_pid,
        reused_from=doc.reused_from, created_at=doc.created_at,
        started_at=doc.started_at, finished_at=doc.finished_at)
