"""The pipeline measures its stages (seconds, in run order) without leaving pure code; a scan's
OCR time is counted on its own, as part of extracting."""

from __future__ import annotations

import time

from docflow import pipeline
from docflow.demo import make_pdf
from tests.scans import image_bytes, text_image


def test_each_stage_of_a_document_is_timed_in_run_order() -> None:
    before = time.time()
    result = pipeline.process_document(make_pdf(["INVOICE 7", "Total due: $12.00"]), "a.pdf")
    assert list(result.timings) == ["detect", "extract", "classify", "fields"]
    assert all(seconds >= 0 for seconds in result.timings.values())
    assert result.started_at is not None and before <= result.started_at <= time.time()
    assert result.extracted.ocr_seconds == 0


def test_a_scans_ocr_time_is_part_of_extracting() -> None:
    scan = image_bytes(text_image(["RECEIPT", "Total 12.00"]), "PNG")
    result = pipeline.process_document(scan, "receipt.png")
    assert result.extracted.ocr_pages == [True]
    assert list(result.timings) == ["detect", "extract", "ocr", "classify", "fields"]
    assert 0 < result.timings["ocr"] <= result.timings["extract"]


def test_timings_do_not_make_two_equal_results_differ() -> None:
    pdf = make_pdf(["A letter"])
    assert pipeline.process_document(pdf, "a.pdf") == pipeline.process_document(pdf, "a.pdf")
