"""Office files whose text is thin have their pictures OCR'd: a scan pasted into Word, a slide
that is one picture, come out with the text the picture shows."""

from __future__ import annotations

import io

import docx as python_docx
import pptx
import pytest
from docx.shared import Inches
from PIL import Image

from docflow.pipeline import Limits, detect, extract, process_document
from docflow.pipeline.errors import OcrDeferred
from docflow.pipeline.extract import office_pictures
from docflow.pipeline.types import OcrOptions
from tests.fixtures_office import make_odf, rewrite_zip
from tests.scans import image_bytes, text_image

LIMITS = Limits()
NOTE = ["Invoice number 4711", "Total due 1250 EUR"]
MEMO = ["Meeting moved to Friday", "Room 12 at noon"]


def read(data: bytes, filename: str, limits: Limits = LIMITS):
    return extract(data, detect(data, filename, limits), limits)


def _docx(pictures: list[bytes], paragraphs: tuple[str, ...] = ()) -> bytes:
    document = python_docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    for picture in pictures:
        document.add_picture(io.BytesIO(picture), width=Inches(5))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _pptx(slides: list[bytes | None]) -> bytes:
    deck = pptx.Presentation()
    for picture in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[6])  # blank: no placeholders
        if picture is not None:
            slide.shapes.add_picture(io.BytesIO(picture), 0, 0, width=deck.slide_width)
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def _scan(lines: list[str]) -> bytes:
    """Lines of text on a page-like picture (over the 200-pixel decoration size)."""
    return image_bytes(text_image(lines, margin=120), "PNG")


def _words(text: str) -> str:
    return " ".join(text.split())


def test_a_word_document_holding_only_a_scanned_page_reads_its_text() -> None:
    extracted = read(_docx([_scan(NOTE)]), "scan.docx")
    assert "Invoice number 4711" in extracted.text and "Total due 1250 EUR" in extracted.text
    assert extracted.ocr_confidence is not None


def test_a_picture_only_deck_reads_its_slides_in_order() -> None:
    deck = _pptx([_scan(MEMO), None, _scan(NOTE)])
    text = _words(read(deck, "whiteboard.pptx").text)
    assert "Meeting moved to Friday" in text and "Invoice number 4711" in text
    assert text.index("Meeting moved") < text.index("Invoice number")


def test_a_picture_only_document_completes_with_its_text_and_no_warning() -> None:
    result = process_document(_docx([_scan(["INVOICE", *NOTE])]), "scan.docx")
    assert result.warnings == []
    assert "Invoice number 4711" in result.extracted.text


def test_a_document_with_text_of_its_own_is_not_ocrd(monkeypatch) -> None:
    def must_not_run(*args, **kwargs):
        raise AssertionError("OCR ran on a document with enough text")

    monkeypatch.setattr(office_pictures, "ocr_picture", must_not_run)
    body = ("The quarterly report shows revenue up by four per cent.",)
    extracted = read(_docx([_scan(NOTE)], paragraphs=body), "report.docx")
    assert extracted.text == body[0]


def test_small_pictures_are_never_ocrd(monkeypatch) -> None:
    read_pictures: list[int] = []
    real = office_pictures.ocr_picture

    def counting(data: bytes, fmt: str, number: int, limits: Limits):
        read_pictures.append(number)
        return real(data, fmt, number, limits)

    monkeypatch.setattr(office_pictures, "ocr_picture", counting)
    logo = image_bytes(Image.new("RGB", (240, 60), (200, 0, 0)), "PNG")
    read(_docx([logo, _scan(NOTE)]), "letter.docx")
    assert read_pictures == [1]  # the scan only


def test_pictures_count_as_pages_against_the_limits() -> None:
    limits = Limits(ocr=OcrOptions(max_pictures=1))
    extracted = read(_pptx([_scan(MEMO), _scan(NOTE)]), "two.pptx", limits)
    assert "Meeting moved" in _words(extracted.text)
    assert "Invoice number" not in extracted.text
    assert any("first 1 of its 2 pictures" in note for note in extracted.warnings)


def test_with_ocr_off_here_the_document_is_deferred_to_the_ocr_queue() -> None:
    limits = Limits(ocr=OcrOptions(enabled=False))
    with pytest.raises(OcrDeferred):
        read(_docx([_scan(NOTE)]), "scan.docx", limits)
    read(_docx([], paragraphs=("Plenty of text of its own, no picture.",)), "t.docx", limits)


def test_a_picture_only_opendocument_text_reads_its_picture() -> None:
    content = ('<office:text><text:p><draw:frame><draw:image '
               'xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="Pictures/scan.png"/>'
               '</draw:frame></text:p></office:text>')
    odt = rewrite_zip(make_odf("odt", content), {"Pictures/scan.png": _scan(NOTE)})
    assert "Invoice number 4711" in read(odt, "scan.odt").text


def test_a_damaged_picture_costs_only_itself() -> None:
    broken = _scan(NOTE)[:200]  # a PNG header and a cut-off body
    damaged = rewrite_zip(_docx([_scan(MEMO)]), {"word/media/image1.png": broken})
    extracted = read(damaged, "damaged.docx")
    assert extracted.text == ""
    assert any("could not be decoded" in note for note in extracted.warnings)
