"""PDF text per page with PDFium (pypdfium2); scanned pages come back empty until OCR lands."""

from __future__ import annotations

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..errors import CorruptDocument, EncryptedDocument, TooManyPages
from ..types import DetectedType, ExtractedText, Limits
from .registry import register


@register("pdf")
def extract_pdf(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    pdf = _open(data)
    try:
        page_count = len(pdf)
        if page_count > limits.max_pages:
            raise TooManyPages(
                f"The PDF has {page_count:,} pages, over the {limits.max_pages:,}-page limit; "
                "split it into smaller files."
            )
        pages: list[str] = []
        warnings: list[str] = []
        for index in range(page_count):
            try:
                pages.append(_page_text(pdf, index))
            except pdfium.PdfiumError:
                # One bad page should not cost the reader the other pages.
                pages.append("")
                warnings.append(f"Page {index + 1} could not be read and was skipped.")
        if page_count and len(warnings) == page_count:
            raise CorruptDocument("No page of the PDF could be read; the file may be damaged.")
        return ExtractedText(text="\n\n".join(pages), pages=pages, warnings=warnings)
    finally:
        pdf.close()


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


def _page_text(pdf: pdfium.PdfDocument, index: int) -> str:
    # Close each page and text page at once: a 5,000-page file must not hold them all.
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            return textpage.get_text_bounded()  # full Unicode, unlike get_text_range (UCS-2)
        finally:
            textpage.close()
    finally:
        page.close()
