"""Text out of a detected document: dispatch to the reader registered for its format.

Every reader returns raw text; this module cleans it the same way for all formats, enforces the
text limit and turns anything a parser throws into a DocumentError a person can act on.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..errors import (
    CorruptDocument,
    DocumentError,
    EmptyDocument,
    EncryptedDocument,
    UnsupportedFormat,
)
from ..types import DetectedType, ExtractedText, Limits
from .archive import extract_archive as extract_archive
from .docx import extract_docx  # importing a reader registers it
from .email import extract_email as extract_email
from .embedded import EMBEDDINGS, embedded_children
from .html import extract_html
from .image import extract_image as extract_image
from .legacy_doc import extract_doc as extract_doc
from .legacy_ppt import extract_ppt as extract_ppt
from .legacy_xls import without_default_password
from .msg import extract_msg as extract_msg
from .odf import extract_odf as extract_odf
from .office import extract_office as extract_office
from .office_pictures import with_picture_text
from .pdf import extract_pdf
from .pptx import extract_pptx as extract_pptx
from .registry import extractor_for, register, supported_formats
from .rtf import extract_rtf as extract_rtf
from .spreadsheet import extract_spreadsheet as extract_spreadsheet
from .tar import extract_tar as extract_tar
from .text import extract_text

__all__ = [
    "clean_text",
    "extract",
    "extract_docx",
    "extract_html",
    "extract_pdf",
    "extract_text",
    "finish_extracted",
    "register",
    "supported_formats",
]

# Formats that are nothing but characters: one with no text fails as empty, while any other
# readable file without text (a photo, a blank scan) completes with a "no_text" warning.
TEXT_ONLY = frozenset({"text", "markdown", "csv", "tsv", "json", "xml"})
_IMAGES = frozenset({"png", "jpeg", "gif", "tiff", "bmp", "webp"})
_LABELS = {  # how a person names the format; anything else is shown upper-case (CSV, RTF)
    "pdf": "PDF", "docx": "Word", "html": "HTML", "xlsx": "Excel", "pptx": "PowerPoint",
    "text": "text", "markdown": "Markdown", "doc": "Word 97-2003 (.doc)",
    "xls": "Excel 97-2003 (.xls)", "ppt": "PowerPoint 97-2003 (.ppt)", "msg": "Outlook (.msg)",
    "ole2": "Office 97-2003", "odt": "OpenDocument text", "ods": "OpenDocument spreadsheet",
    "odp": "OpenDocument presentation", "zip": "ZIP", "ppt40": "PowerPoint 4.0 (1994)",
}
_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffe\uffff]")  # keeps \t \n and \f
# Tried only where a run of spaces starts: from every space of a long run, `[ \t]+\n` would
# scan the rest of the run again (quadratic on a line of a million spaces).
_TRAILING_SPACE = re.compile(r"(?<![ \t])[ \t]+\n")


def extract(data: bytes, detected: DetectedType, limits: Limits = Limits()) -> ExtractedText:
    """The document's text; raises a DocumentError subclass for anything it cannot read."""
    label = _LABELS.get(detected.format, detected.format.upper())
    if detected.encrypted and detected.format == "xls":  # Excel's own password opens it
        plain = without_default_password(data)
        if plain is not None:
            data, detected = plain, replace(detected, encrypted=False)
    if detected.encrypted:
        raise EncryptedDocument(
            f"The {label} file is password-protected; remove the password and upload it again."
        )
    reader = extractor_for(detected.format)
    if reader is None:
        raise UnsupportedFormat(_unsupported_message(detected.format, label))
    try:
        raw = reader(data, detected, limits)
        if detected.format in EMBEDDINGS:
            raw = _with_embedded(raw, data, detected.format, limits)
        raw = with_picture_text(raw, data, detected.format, limits)  # thin text: OCR pictures
    except DocumentError:
        raise
    except Exception as exc:  # a parser bug must never escape as a bare library error
        raise CorruptDocument(  # the parser's own error stays chained for the logs
            f"The {label} file could not be read; it may be damaged. "
            "Try saving or exporting it again."
        ) from exc
    return _finish(raw, detected, limits, label)


def _with_embedded(raw: ExtractedText, data: bytes, fmt: str, limits: Limits) -> ExtractedText:
    """Add the files embedded in an Office document as children; they never fail the host."""
    try:
        children, skipped = embedded_children(data, fmt, limits)
    except DocumentError as exc:
        children, skipped = [], [f"The embedded objects were skipped: {exc.message}"]
    if not children and not skipped:
        return raw
    return replace(raw, children=[*raw.children, *children], skipped=[*raw.skipped, *skipped])


def finish_extracted(
    raw: ExtractedText, detected: DetectedType, limits: Limits = Limits()
) -> ExtractedText:
    """What `extract` makes of a reader's raw output (cleaning, the text limit, the empty check),
    for text put together elsewhere: the pages of a PDF OCR'd in parts, joined in order."""
    return _finish(raw, detected, limits, _LABELS.get(detected.format, detected.format.upper()))


def clean_text(text: str) -> str:
    """One newline convention, no stray control characters, no trailing spaces on lines."""
    text = _NEWLINES.sub("\n", text)
    text = _CONTROLS.sub("", text)
    return _TRAILING_SPACE.sub("\n", text).strip("\n")


def _finish(
    raw: ExtractedText, detected: DetectedType, limits: Limits, label: str
) -> ExtractedText:
    pages = [clean_text(page) for page in raw.pages]
    text = "\n\n".join(pages) if pages else clean_text(raw.text)
    if not text.strip():
        if detected.format in TEXT_ONLY:  # its characters are all it has: blank means broken
            raise EmptyDocument(_empty_message(detected.format, label))
        # A photo, a blank scan, a picture-only slide: readable, with no text to keep.
        return replace(raw, text="", pages=["" for _ in pages])
    if len(text) <= limits.max_text_chars:
        return replace(raw, text=text, pages=pages)
    warning = f"The text was cut at {limits.max_text_chars:,} characters."
    return replace(
        raw,
        text=text[: limits.max_text_chars],
        pages=_cut_pages(pages, limits.max_text_chars),
        truncated=True,
        warnings=[*raw.warnings, warning],
    )


def _cut_pages(pages: list[str], budget: int) -> list[str]:
    kept: list[str] = []
    for page in pages:
        if budget <= 0:
            break
        kept.append(page[:budget])
        budget -= len(page) + 2  # the "\n\n" between pages counts against the budget too
    return kept


def _empty_message(fmt: str, label: str) -> str:
    if fmt == "pdf":
        return (
            "No text layer was found in the PDF (it may be scanned images); "
            "OCR is not available yet, so upload a PDF with selectable text."
        )
    return f"The {label} file contains no text."


def _unsupported_message(fmt: str, label: str) -> str:
    if fmt == "ppt40":
        return (
            "PowerPoint 4.0 (1994) files are not read: the format was never published. Open "
            "the file in PowerPoint or LibreOffice Impress, save it as .pptx (or .ppt), and "
            "upload that."
        )
    if fmt in _IMAGES:
        return (
            f"This is an image ({label}); reading text from images needs OCR, which is not "
            "available yet. Upload a PDF or document with selectable text."
        )
    return f"docflow cannot read {label} files yet; convert the file to PDF or DOCX and retry."
