"""PDF text per page with PDFium (pypdfium2); pages without a text layer are rendered and OCR'd.

A page keeps its text layer when it has at least `OcrOptions.min_text_chars` non-blank
characters. Otherwise, if anything is drawn on it besides text (a scanned image, vector
outlines), it is rendered at `OcrOptions.dpi` and read by OCR; a page holding only a few words of
real text, or nothing at all, keeps what its text layer says, since its image shows no more.
The decision reads only the text layer and the page objects: with OCR off here (the light
queue), a page that needs it raises OcrDeferred before anything is rendered.
Pages are read one at a time: at most one rendered page image is in memory (render, OCR, free).

Page ranges, for splitting a long scan into subtasks that run in parallel:

    scan = scan_pdf(data, limits)                  # page count, pages needing OCR; no rendering
    for first, last in page_ranges(scan, ocr_pages_per_task=20):
        send a subtask: ocr_pdf_pages(data, first, last, limits) -> list[PageText]
    raw = join_pdf_pages(all returned pages, in any order)   # the same as extract_pdf's result

`ocr_pdf_pages` returns exactly one PageText per page of `first..last` (1-based, inclusive), in
page order, each the page's final text (text layer kept, or OCR): the same pages `extract_pdf`
gives, so a retried or repeated subtask returns the same result. `join_pdf_pages` puts pages in
page-number order, refuses gaps or repeats, and makes the ExtractedText that `extract_pdf`
would have returned; the caller then finishes it like any reader's output (cleaning, the text
limit, the empty check). Every call raises the same DocumentError for the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..errors import CorruptDocument, EncryptedDocument, TooManyPages
from ..types import DetectedType, ExtractedText, Limits, PageText
from .pages import join_pages, ocr_page, require_ocr, skipped_page
from .pdf_streams import refuse_pdf_bombs
from .registry import register

__all__ = [
    "PdfScan",
    "extract_pdf",
    "join_pdf_pages",
    "ocr_pdf_pages",
    "page_ranges",
    "scan_pdf",
]


@dataclass(frozen=True)
class PdfScan:
    """What a PDF holds before any page is rendered."""

    page_count: int
    ocr_page_numbers: tuple[int, ...]  # 1-based pages that will be rendered and OCR'd


@register("pdf")
def extract_pdf(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    refuse_pdf_bombs(data, limits.max_unpacked_bytes)
    pdf = _open(data)
    try:
        count = _page_count(pdf, limits)
        pages = [_read_page(pdf, number, limits) for number in range(1, count + 1)]
    finally:
        pdf.close()
    return join_pdf_pages(pages)


def scan_pdf(data: bytes, limits: Limits = Limits()) -> PdfScan:
    """The page count and the pages that need OCR: cheap (text layers only), for planning."""
    refuse_pdf_bombs(data, limits.max_unpacked_bytes)
    pdf = _open(data)
    try:
        count = _page_count(pdf, limits)
        needing = tuple(n for n in range(1, count + 1) if _needs_ocr(pdf, n, limits))
    finally:
        pdf.close()
    return PdfScan(page_count=count, ocr_page_numbers=needing)


def page_ranges(scan: PdfScan, ocr_pages_per_task: int) -> list[tuple[int, int]]:
    """(first, last) ranges covering every page, each with at most `ocr_pages_per_task` OCR pages.

    Text-layer pages are cheap and ride along with their neighbours; a document with no page to
    OCR is one range.
    """
    if ocr_pages_per_task < 1:
        raise ValueError("ocr_pages_per_task must be at least 1")
    if scan.page_count == 0:
        return []
    ranges: list[tuple[int, int]] = []
    first = 1
    cuts = scan.ocr_page_numbers[ocr_pages_per_task - 1 :: ocr_pages_per_task]
    for last in cuts:
        if last < scan.page_count:
            ranges.append((first, last))
            first = last + 1
    ranges.append((first, scan.page_count))
    return ranges


def ocr_pdf_pages(data: bytes, first: int, last: int, limits: Limits = Limits()) -> list[PageText]:
    """Pages first..last (1-based, inclusive), each its text layer or its OCR'd image.

    Raises ValueError for a range outside the document, DocumentError for a PDF that cannot be
    read at all (encrypted, corrupt, too many pages) or OCR that cannot run (OcrUnavailable).
    """
    refuse_pdf_bombs(data, limits.max_unpacked_bytes)
    pdf = _open(data)
    try:
        count = _page_count(pdf, limits)
        if not 1 <= first <= last <= count:
            raise ValueError(f"page range {first}..{last} is outside the PDF's 1..{count}")
        return [_read_page(pdf, number, limits) for number in range(first, last + 1)]
    finally:
        pdf.close()


def join_pdf_pages(pages: Iterable[PageText]) -> ExtractedText:
    """One document from its pages, whatever order the subtasks finished in."""
    pages = list(pages)
    if any(page.ocr for page in pages):
        empty = (
            "No text was found in the PDF: its pages have no text layer, and OCR of their "
            "images read nothing. Check that the scan is not blank or too faint."
        )
    else:
        empty = "The PDF has no text layer and nothing on its pages for OCR to read; it is blank."
    return join_pages(pages, "PDF", empty)


# -- one page -----------------------------------------------------------------------------------


def _read_page(pdf: pdfium.PdfDocument, number: int, limits: Limits) -> PageText:
    # Close each page, text page and bitmap at once: a 5,000-page file must not hold them all.
    try:
        page = pdf[number - 1]
    except pdfium.PdfiumError:
        return skipped_page(number)
    try:
        try:
            layer = _text_layer(page)
        except pdfium.PdfiumError:
            return skipped_page(number)
        if _enough_text(layer, limits) or not _draws_more_than_text(page):
            return PageText(number=number, text=layer)
        # Decided before rendering: a page the light queue hands on is never rendered here.
        require_ocr(number, limits.ocr)
        return _ocr_page(page, number, layer, limits)
    finally:
        page.close()


def _needs_ocr(pdf: pdfium.PdfDocument, number: int, limits: Limits) -> bool:
    try:
        page = pdf[number - 1]
    except pdfium.PdfiumError:
        return False
    try:
        return not _enough_text_on(page, limits) and _draws_more_than_text(page)
    except pdfium.PdfiumError:
        return False
    finally:
        page.close()


def _ocr_page(page: pdfium.PdfPage, number: int, layer: str, limits: Limits) -> PageText:
    options = limits.ocr
    width, height = page.get_size()
    scale = options.dpi / 72
    pixels = width * height * scale * scale
    if pixels > limits.max_image_pixels:  # a poster-sized page: render fewer dots, never more
        scale *= math.sqrt(limits.max_image_pixels / pixels)
    try:
        bitmap = page.render(scale=scale, grayscale=True)
    except pdfium.PdfiumError:
        return skipped_page(number, "could not be rendered for OCR", layer, ocr=True)
    try:
        return ocr_page(bitmap.to_pil(), number, options, dpi=round(scale * 72), fallback=layer)
    finally:
        bitmap.close()


def _enough_text(text: str, limits: Limits) -> bool:
    """At least `min_text_chars` non-blank characters, counted in C over a bounded head first."""
    minimum = limits.ocr.min_text_chars
    if len(text) < minimum:
        return False
    # Most pages settle it within their first few lines; only a sparse page is counted whole.
    head = text[: minimum * 8]
    return _non_blank(head) >= minimum or (len(head) < len(text) and _non_blank(text) >= minimum)


def _non_blank(text: str) -> int:
    # str.split() drops exactly the characters str.isspace() calls blank.
    return sum(map(len, text.split()))


def _enough_text_on(page: pdfium.PdfPage, limits: Limits) -> bool:
    """_enough_text of the page's text layer, without extracting it when PDFium counts too few
    characters (blanks included) for it to pass."""
    textpage = page.get_textpage()
    try:
        if textpage.count_chars() < limits.ocr.min_text_chars:
            return False
        return _enough_text(textpage.get_text_bounded(), limits)
    finally:
        textpage.close()


def _draws_more_than_text(page: pdfium.PdfPage) -> bool:
    """Whether rendering could show text the text layer lacks: an image, a path, a shading."""
    for obj in page.get_objects(max_depth=4):
        if obj.type not in (pdfium_c.FPDF_PAGEOBJ_TEXT, pdfium_c.FPDF_PAGEOBJ_FORM):
            return True
    return False


# -- the document -------------------------------------------------------------------------------


def _page_count(pdf: pdfium.PdfDocument, limits: Limits) -> int:
    count = len(pdf)
    if count > limits.max_pages:
        raise TooManyPages(
            f"The PDF has {count:,} pages, over the {limits.max_pages:,}-page limit; "
            "split it into smaller files."
        )
    return count


def _open(data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            raise EncryptedDocument(
                "The PDF is password-protected; remove the password and upload it again."
            ) from exc
        if code == pdfium_c.FPDF_ERR_SECURITY:
            raise EncryptedDocument(
                "The PDF uses an encryption scheme docflow cannot open; save an unencrypted copy "
                "and upload that."
            ) from exc
        raise CorruptDocument(
            "The PDF could not be opened; it may be damaged or incomplete. Try re-exporting it."
        ) from exc


def _text_layer(page: pdfium.PdfPage) -> str:
    textpage = page.get_textpage()
    try:
        return textpage.get_text_bounded()  # full Unicode, unlike get_text_range (UCS-2)
    finally:
        textpage.close()
