"""Text size: a page-sized image of tall lines is read smaller, faster and as well."""

from __future__ import annotations

import pytest
from PIL import Image

from docflow.pipeline.ocr import ocr_image
from docflow.pipeline.textsize import (
    MAX_SHRINK,
    MIN_SHRINK_PIXELS,
    SHRINK_TO_LINE_PX,
    ocr_scale,
    text_line_height,
)
from tests.scans import CONTRACT_LINES, text_image


def page(lines: list[str], size: int, width: int = 2480, height: int = 3508) -> Image.Image:
    """`lines` at `size` pixels per em, top left on an A4 page of grey pixels (300 dpi)."""
    sheet = Image.new("L", (width, height), 255)
    sheet.paste(text_image(lines, size=size), (100, 100))
    return sheet


def test_a_page_of_tall_lines_is_shrunk_to_the_target_line_height() -> None:
    big = page(CONTRACT_LINES, size=64)
    height = text_line_height(big)
    assert height > 40
    assert ocr_scale(big) == pytest.approx(SHRINK_TO_LINE_PX / height)


def test_ordinary_print_at_300_dpi_is_read_smaller_and_still_read_right() -> None:
    letter = page(CONTRACT_LINES, size=48)  # 12 pt type at 300 dpi: lines about 40 pixels high
    assert ocr_scale(letter) < 0.7
    result = ocr_image(letter, dpi=300)
    # Blank lines may part paragraphs: compare the words.
    assert result.text.split() == " ".join(CONTRACT_LINES).split()
    assert result.confidence > 0.9


def test_lines_that_are_not_tall_are_left_as_they_are() -> None:
    assert ocr_scale(page(CONTRACT_LINES, size=28)) == 1.0  # 7 pt at 300 dpi


def test_small_images_are_never_shrunk() -> None:
    receipt = text_image(CONTRACT_LINES, size=64)  # tall lines, but far fewer pixels than a page
    assert receipt.width * receipt.height < MIN_SHRINK_PIXELS
    assert ocr_scale(receipt) == 1.0


def test_a_page_without_enough_lines_to_measure_is_left_as_it_is() -> None:
    assert ocr_scale(Image.new("L", (2480, 3508), 255)) == 1.0  # blank
    assert ocr_scale(page(CONTRACT_LINES[:2], size=64)) == 1.0  # a title: two lines are no measure


def test_a_page_is_never_shrunk_below_a_quarter() -> None:
    poster = page(CONTRACT_LINES, size=200, width=6000, height=3508)
    assert ocr_scale(poster) == MAX_SHRINK


def test_a_colour_page_is_measured_in_grey() -> None:
    grey = page(CONTRACT_LINES, size=64)
    assert ocr_scale(grey.convert("RGB")) == ocr_scale(grey)
