"""Whether a PDF page needs OCR is decided from its text layer and page objects before anything
is rendered: a page handed on to the OCR queue, or a born-digital page, is never rendered."""

from __future__ import annotations

import random
from dataclasses import replace

import pypdfium2 as pdfium
import pytest

from docflow.pipeline import Limits, process_document
from docflow.pipeline.errors import OcrDeferred
from docflow.pipeline.extract import pdf as pdf_module
from docflow.pipeline.extract.pdf import ocr_pdf_pages, scan_pdf
from tests.fixtures import make_pdf
from tests.scans import make_scanned_pdf, text_image

NO_OCR = replace(Limits(), ocr=replace(Limits().ocr, enabled=False))


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every page render (PDFium's), counted; the real render still runs."""
    seen: list[int] = []
    real = pdfium.PdfPage.render

    def counting(page, *args, **kwargs):
        seen.append(1)
        return real(page, *args, **kwargs)

    monkeypatch.setattr(pdfium.PdfPage, "render", counting)
    return seen


def test_a_scan_handed_on_to_the_ocr_queue_is_never_rendered(renders: list[int]) -> None:
    data = make_scanned_pdf([text_image(["A scanned page"])])
    with pytest.raises(OcrDeferred):
        process_document(data, "s.pdf", NO_OCR)
    assert renders == []
    # Planning the OCR parts reads no pixels either.
    assert scan_pdf(data, Limits()).ocr_page_numbers == (1,) and renders == []


def test_a_born_digital_pdf_is_never_rendered(renders: list[int]) -> None:
    data = make_pdf(["A text layer page with plenty of words on it.", "And a second page."])
    text = process_document(data, "t.pdf", Limits()).extracted.text
    assert "plenty of words" in text and "second page" in text
    assert [p.ocr for p in ocr_pdf_pages(data, 1, 2)] == [False, False]
    assert scan_pdf(data).ocr_page_numbers == ()
    assert renders == []


def test_a_scan_read_here_is_rendered_once(renders: list[int], monkeypatch) -> None:
    from docflow.pipeline.extract import pages as pages_module
    from docflow.pipeline.ocr import OcrResult

    monkeypatch.setattr(pages_module, "ocr_image",
                        lambda image, options, dpi=None: OcrResult("INVOICE 4711", 0.9))
    data = make_scanned_pdf([text_image(["INVOICE 4711"])])
    assert "INVOICE 4711" in process_document(data, "s.pdf", Limits()).extracted.text
    assert renders == [1]


def test_the_bounded_count_agrees_with_counting_every_character() -> None:
    rng = random.Random(12)
    alphabet = ["a", "Z", "7", " ", "\n", "\t", "\u00a0", "\u2003", "é", "\U0001f600", "\x0c"]
    limits = Limits()
    minimum = limits.ocr.min_text_chars
    for _ in range(3000):
        # Mostly blank pages of every length, some past the bounded head, around the threshold.
        size = rng.choice([0, 5, minimum, minimum * 8 - 1, minimum * 8 + 3, 1000])
        weights = [1, 1, 1, 30, 5, 2, 2, 2, 1, 1, 1]
        text = "".join(rng.choices(alphabet, weights=weights, k=size))
        expected = sum(not char.isspace() for char in text) >= minimum
        assert pdf_module._enough_text(text, limits) is expected, repr(text)
