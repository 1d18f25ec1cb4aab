"""Typed results that cross module lines inside the pipeline and out of it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """Bounds the pipeline enforces on one document (settings pass them down)."""

    max_file_bytes: int = 200 * 1024 * 1024
    max_pages: int = 5000
    max_text_chars: int = 50_000_000


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

    @property
    def page_count(self) -> int:
        return len(self.pages) if self.pages else 1


@dataclass(frozen=True)
class Classification:
    doc_type: str
    confidence: float  # 0..1
    decider: str  # which classifier chose it, e.g. "rules"


@dataclass(frozen=True)
class Field:
    """One key fact found in the text, with its normalised value and where it was found."""

    name: str  # "date", "amount", "email", "phone"
    value: str  # the text as it appears
    normalized: str  # ISO date, "123.45 EUR", lower-cased e-mail, E.164 phone
    start: int  # character span of the evidence in the document text
    end: int
    confidence: float


@dataclass(frozen=True)
class ProcessedDocument:
    detected: DetectedType
    extracted: ExtractedText
    classification: Classification
    fields: list[Field]
