"""Pages read one by one (PDF pages, image frames), and the document they make when joined."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import CorruptDocument, OcrDeferred, ProcessingTimeout
from ..ocr import ocr_image
from ..types import ExtractedText, OcrOptions, PageText

if TYPE_CHECKING:
    from PIL.Image import Image


def ocr_page(
    image: Image,
    number: int,
    options: OcrOptions,
    dpi: int,
    fallback: str = "",
    *,
    shrink: bool = True,
) -> PageText:
    """Page `number` as OCR reads it in `image`; `fallback` stands if OCR finds nothing.

    `shrink` as for ocr_image: False when the image was just enlarged for OCR.
    """
    require_ocr(number, options)
    started = time.perf_counter()
    try:
        # The call predating `shrink` unless it is off, so stand-ins for ocr_image still fit.
        if shrink:
            result = ocr_image(image, options, dpi=dpi)
        else:
            result = ocr_image(image, options, dpi=dpi, shrink=False)
    except ProcessingTimeout:
        why = f"took longer than {options.page_timeout_s:g} s to OCR"
        return skipped_page(number, why, fallback, ocr=True, failed=ProcessingTimeout.code)
    except RuntimeError:  # Tesseract refused the image; the other pages still count
        return skipped_page(number, "could not be read by OCR", fallback, ocr=True)
    seconds = time.perf_counter() - started
    if not result.text.strip():
        return PageText(number=number, text=fallback, ocr=True, ocr_seconds=seconds)
    warning = None
    if result.confidence < options.low_confidence:
        warning = (
            f"Page {number} was read by OCR with low confidence ({result.confidence:.2f}); "
            "its text may contain errors."
        )
    return PageText(
        number=number, text=result.text, ocr=True, confidence=result.confidence, warning=warning,
        ocr_seconds=seconds,
    )


def require_ocr(number: int, options: OcrOptions) -> None:
    """Raise OcrDeferred when OCR is off here: call it before rendering or decoding a page."""
    if not options.enabled:
        raise OcrDeferred(f"page {number} needs OCR")


def skipped_page(
    number: int,
    why: str = "could not be read",
    text: str = "",
    ocr: bool = False,
    failed: str = CorruptDocument.code,
) -> PageText:
    return PageText(
        number=number, text=text, ocr=ocr, warning=f"Page {number} {why} and was skipped.",
        failed=failed,
    )


def join_pages(pages: Iterable[PageText], label: str, empty_message: str) -> ExtractedText:
    """One document from its pages in page-number order; raises when no page could be read.

    `label` names the format for people ("PDF", "TIFF image"); `empty_message` is the note for
    a document whose pages were all read and hold no text (a photo, a blank scan): such a
    document is not broken, it comes back with no text and the note among its warnings.
    """
    ordered = sorted(pages, key=lambda page: page.number)
    if [page.number for page in ordered] != list(range(1, len(ordered) + 1)):
        raise ValueError("pages must be numbered 1..N with none missing or repeated")
    texts = [page.text for page in ordered]
    notes = [page.warning for page in ordered if page.warning]
    if not any(text.strip() for text in texts):
        _raise_if_unreadable(ordered, label)
        notes.append(empty_message)
    return ExtractedText(
        text="\n\n".join(texts),
        pages=texts,
        warnings=notes,
        ocr_pages=[page.ocr for page in ordered],
        ocr_confidence=_mean_confidence(ordered),
        unread_pages=[page.number for page in ordered if page.failed],
        ocr_seconds=sum(page.ocr_seconds for page in ordered),
    )


def _mean_confidence(pages: list[PageText]) -> float | None:
    """OCR confidence over all OCR'd characters, so a blank scanned page does not drag it down."""
    weighted = [(page.confidence, len(page.text)) for page in pages if page.confidence is not None]
    total = sum(chars for _, chars in weighted)
    if not total:
        return None
    return round(sum((conf or 0.0) * chars for conf, chars in weighted) / total, 4)


def _raise_if_unreadable(pages: list[PageText], label: str) -> None:
    """Every page failed (damaged, timed out): a person must fix the file, so it fails."""
    failures = [page.failed for page in pages if page.failed]
    if pages and len(failures) == len(pages):
        if ProcessingTimeout.code in failures:
            raise ProcessingTimeout(
                f"OCR of the {label} ran past the per-page time limit; the pages may hold noise "
                "or pictures rather than text."
            )
        if len(pages) == 1:
            raise CorruptDocument(f"The {label} could not be read; the file may be damaged.")
        raise CorruptDocument(f"No page of the {label} could be read; the file may be damaged.")
