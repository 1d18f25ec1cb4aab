"""A document's end: one log line, the shared counters, and its stages as trace spans.

The worker calls `document_ended` once it has committed a document's end (completed or failed);
at 500,000 documents that line is the log: id, batch, status, code, milliseconds per stage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from opentelemetry import trace

from docflow.config import Settings
from docflow.observability.counters import Increments, shared
from docflow.pipeline.types import ProcessedDocument
from docflow.store.models import Document

log = logging.getLogger("docflow.documents")
_tracer = trace.get_tracer("docflow.pipeline")


@dataclass(frozen=True)
class DocumentEnd:
    document_id: str
    batch_id: str | None
    status: str  # completed | failed
    code: str | None  # the error code of a failed document
    size: int  # bytes of the original
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds, in run order
    started_at: float | None = None  # epoch seconds the pipeline started, for stage spans
    pages: int = 0
    ocr_pages: int = 0

    @classmethod
    def completed(cls, doc: Document, result: ProcessedDocument) -> DocumentEnd:
        return cls(doc.id, doc.batch_id, doc.status, doc.error_code, doc.size,
                   dict(result.timings), result.started_at, result.extracted.page_count,
                   sum(result.extracted.ocr_pages))

    @classmethod
    def failed(cls, doc: Document) -> DocumentEnd:
        return cls(doc.id, doc.batch_id, doc.status, doc.error_code, doc.size)

    @property
    def stage_ms(self) -> dict[str, int]:
        return {stage: round(seconds * 1000) for stage, seconds in self.timings.items()}

    def line(self) -> str:
        stages = " ".join(f"{stage}={ms}" for stage, ms in self.stage_ms.items())
        return (f"document {self.document_id} {self.status} batch={self.batch_id or '-'} "
                f"code={self.code or '-'} pages={self.pages} ocr_pages={self.ocr_pages} "
                f"ms: {stages or '-'}")

    def fields(self) -> dict[str, object]:
        """The line's facts as JSON keys (DOCFLOW_LOG_FORMAT=json)."""
        return {"event": "document_end", "document_id": self.document_id,
                "batch_id": self.batch_id, "status": self.status, "code": self.code,
                "pages": self.pages, "ocr_pages": self.ocr_pages, "stage_ms": self.stage_ms}


def document_ended(settings: Settings, end: DocumentEnd) -> None:
    """Log the document's end, add it to the shared counters and trace its stages. Never raises:
    the document's result is already committed."""
    try:
        log.info(end.line(), extra={"docflow": end.fields()})
        _trace(end)
        shared(settings.effective_broker_url(), settings.metrics_timeout_seconds).add(
            increments(end))
    except Exception:
        log.exception("document %s: could not record its end in logs or metrics",
                      end.document_id)


def increments(end: DocumentEnd) -> Increments:
    inc = Increments()
    inc.count("docflow_documents_ended_total", {"status": end.status, "code": end.code or ""})
    inc.count("docflow_processed_bytes_total", {}, end.size)
    if end.pages:
        inc.count("docflow_pages_read_total", {}, end.pages)
    if end.ocr_pages:
        inc.count("docflow_pages_ocr_total", {}, end.ocr_pages)
    for stage, seconds in end.timings.items():
        inc.observe("docflow_stage_seconds", {"stage": stage}, seconds)
    return inc


def _trace(end: DocumentEnd) -> None:
    """The document's ids on the task's span, and one child span per stage, laid where the
    stages ran (the pipeline is pure and only measured them)."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute("docflow.document_id", end.document_id)
    if end.batch_id:
        span.set_attribute("docflow.batch_id", end.batch_id)
    span.set_attribute("docflow.status", end.status)
    if end.code:
        span.set_attribute("docflow.error_code", end.code)
    if end.started_at is None:
        return
    start_ns = int(end.started_at * 1e9)
    for stage, seconds in end.timings.items():
        if stage == "ocr":  # inside extract: its time is spread over pages, shown as a sum
            continue
        stop_ns = start_ns + int(seconds * 1e9)
        attributes: dict[str, str | float] = {"docflow.document_id": end.document_id,
                                               "docflow.stage": stage}
        if stage == "extract" and "ocr" in end.timings:
            attributes["docflow.ocr_seconds"] = end.timings["ocr"]
        stage_span = _tracer.start_span(f"docflow.{stage}", start_time=start_ns,
                                        attributes=attributes)
        stage_span.end(end_time=stop_ns)
        start_ns = stop_ns


def batch_indexed(settings: Settings, documents: int, seconds: float) -> None:
    """The indexer wrote a batch: its seconds count as the index stage (per batch, not per
    document: tantivy's one writer indexes hundreds at once)."""
    inc = Increments()
    inc.observe("docflow_stage_seconds", {"stage": "index"}, seconds)
    inc.count("docflow_documents_indexed_total", {}, documents)
    shared(settings.effective_broker_url(), settings.metrics_timeout_seconds).add(inc)
