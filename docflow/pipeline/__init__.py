"""The document pipeline: bytes and a file name in, a ProcessedDocument out.

    detect type -> extract text -> classify -> extract fields

Pure functions only: nothing here touches a database, a queue, the network or the environment,
so a worker, a test or a notebook can call `process_document` the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from .classify import DocumentClassifier, classify
from .classify.doc_types import OTHER as NO_TEXT_TYPE
from .detect import detect
from .errors import (
    CorruptDocument,
    DocumentError,
    DocumentTooLarge,
    EmptyDocument,
    EncryptedDocument,
    ProcessingTimeout,
    TooManyPages,
    UnsupportedFormat,
)
from .extract import extract, finish_extracted
from .extract.pdf import join_pdf_pages
from .fields import extract_fields
from .fields.learned import LearnedFields
from .fields.llm import AskJson, read_fields
from .types import (
    Classification,
    DetectedType,
    DocumentWarning,
    ExtractedText,
    Field,
    Limits,
    PageText,
    ProcessedDocument,
)

NO_TEXT = "no_text"  # a readable file with no text, even after OCR
TRUNCATED = "truncated"  # text cut at Limits.max_text_chars
PARTIAL = "partial"  # some pages or parts could not be read and were skipped; the rest was kept
_NAMED_PARTS = 10  # a partial warning names this many skipped parts, then counts the rest

__all__ = [
    "Classification",
    "CorruptDocument",
    "DetectedType",
    "DocumentClassifier",
    "DocumentError",
    "DocumentTooLarge",
    "DocumentWarning",
    "EmptyDocument",
    "EncryptedDocument",
    "ExtractedText",
    "Field",
    "LearnedFields",
    "Limits",
    "ProcessedDocument",
    "ProcessingTimeout",
    "TooManyPages",
    "UnsupportedFormat",
    "classify",
    "detect",
    "document_warnings",
    "extract",
    "extract_fields",
    "process_document",
    "process_pdf_pages",
]


def process_document(
    data: bytes,
    filename: str,
    limits: Limits = Limits(),
    classifier: DocumentClassifier | None = None,
    learned: LearnedFields | None = None,
    ask_fields: AskJson | None = None,
) -> ProcessedDocument:
    """Run every stage on one document; raises a DocumentError subclass if it cannot be read.

    Without a `classifier`, types come from keywords alone (no model); a worker passes one built
    from the user's types, trained model and embedding cache (see classify.DocumentClassifier).
    `learned` holds what people's field corrections taught (see fields/learned.py).
    With `ask_fields` (a language model), key fields the extractors missed are asked of it and
    kept where the text shows them (see fields.llm).
    """
    watch = Stopwatch()
    detected = detect(data, filename, limits)
    watch.lap("detect")
    extracted = extract(data, detected, limits)
    watch.lap("extract")
    return _understand(detected, extracted, classifier, learned, ask_fields, limits, watch)


def process_pdf_pages(
    data: bytes,
    filename: str,
    pages: Iterable[PageText],
    limits: Limits = Limits(),
    classifier: DocumentClassifier | None = None,
    learned: LearnedFields | None = None,
    ask_fields: AskJson | None = None,
) -> ProcessedDocument:
    """`process_document` for a PDF whose pages were read in parts (`ocr_pdf_pages` per page
    range, in any order): the same result as reading it whole."""
    watch = Stopwatch()
    detected = detect(data, filename, limits)
    watch.lap("detect")
    extracted = finish_extracted(join_pdf_pages(pages), detected, limits)
    watch.lap("extract")
    return _understand(detected, extracted, classifier, learned, ask_fields, limits, watch)


def _understand(
    detected: DetectedType,
    extracted: ExtractedText,
    classifier: DocumentClassifier | None,
    learned: LearnedFields | None,
    ask_fields: AskJson | None,
    limits: Limits,
    watch: Stopwatch,
) -> ProcessedDocument:
    if extracted.ocr_seconds:
        watch.timings["ocr"] = extracted.ocr_seconds
    text = extracted.text
    warnings = document_warnings(extracted, limits)
    if not text.strip():
        # Nothing to classify, mine or embed: a model's guess on "" would be its prior, and a
        # vector of "" would match every query by accident.
        return ProcessedDocument(
            detected=detected, extracted=extracted,
            classification=Classification(NO_TEXT_TYPE, 1.0, decider="no_text"),
            fields=[], warnings=warnings, timings=watch.timings, started_at=watch.started_at,
        )
    embedding = classifier.embed(text) if classifier is not None else None
    passages = (classifier.embed_passages(text, embedding)
                if classifier is not None and embedding is not None else None)
    classification = (
        classifier.classify(text, embedding) if classifier is not None else classify(text)
    )
    watch.lap("classify")
    fields = extract_fields(text, classification.doc_type)
    if learned:
        fields = learned.apply(text, classification.doc_type, fields)
    if ask_fields is not None:
        fields += read_fields(text, classification.doc_type, fields, ask_fields)
    watch.lap("fields")
    return ProcessedDocument(
        detected=detected,
        extracted=extracted,
        classification=classification,
        fields=fields,
        embedding=embedding.tolist() if embedding is not None else None,
        embedding_model=classifier.encoder.version if embedding is not None else None,
        passages=passages,
        warnings=warnings,
        timings=watch.timings,
        started_at=watch.started_at,
    )


class Stopwatch:
    """Seconds per stage in run order; reading a clock keeps the pipeline pure enough."""

    def __init__(self) -> None:
        self.started_at = time.time()
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        """The stage that just ended took the time since the previous lap."""
        now = time.perf_counter()
        self.timings[stage] = now - self._last
        self._last = now


def document_warnings(extracted: ExtractedText, limits: Limits) -> list[DocumentWarning]:
    """What a person should know about a document that completed (see DocumentWarning)."""
    found = []
    if not extracted.text.strip():
        if any(extracted.ocr_pages):
            why = ("OCR found no text in it: it may be a photo, a drawing or a blank page. If it "
                   "does show text, try a sharper scan or a higher resolution.")
        else:
            why = "It holds no text: it may contain only pictures, or be blank."
        found.append(DocumentWarning(NO_TEXT, why + " It is kept, but search finds it only by "
                                     "its name and metadata."))
    if extracted.unread_pages or extracted.skipped:
        found.append(DocumentWarning(PARTIAL, _partial_message(extracted)))
    if extracted.truncated:
        found.append(DocumentWarning(TRUNCATED, f"The text was cut at {limits.max_text_chars:,} "
                                     "characters; the rest is not searchable."))
    return found


def _partial_message(extracted: ExtractedText) -> str:
    sentences = []
    unread = extracted.unread_pages
    if unread:
        shown = ", ".join(str(number) for number in unread[:10]) + (
            ", ..." if len(unread) > 10 else "")
        sentences.append(
            f"{len(unread):,} of {extracted.page_count:,} pages could not be read (damaged, or "
            f"OCR ran out of time) and were skipped: page {shown}. The other pages were kept.")
    skipped = list(dict.fromkeys(extracted.skipped))
    sentences += skipped[:_NAMED_PARTS]
    if len(skipped) > _NAMED_PARTS:
        sentences.append(f"{len(skipped) - _NAMED_PARTS:,} more parts were skipped too.")
    if skipped:
        sentences.append("Everything else in the file was read.")
    return " ".join(sentences)
