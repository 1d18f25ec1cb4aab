"""How tall the text lines of a page image are, and the scale at which OCR should read it.

Tesseract's LSTM reads every text line scaled to 36 pixels high, so a page's text size barely
changes what recognition costs, while layout analysis, thresholding and cutting out line images
grow with the pixels. A page-sized image whose lines are taller than OCR needs is therefore read
smaller. Small images are left alone: they gain little, and faint receipt print loses more to
resampling than crisp print does (measured with bench/ocr.py).
"""

from __future__ import annotations

import statistics

from PIL import Image, ImageOps

__all__ = ["SHRINK_ABOVE_LINE_PX", "SHRINK_TO_LINE_PX", "ocr_scale", "text_line_height"]

# Measured on 60 born-digital PDF pages rendered at 300 dpi (lines 30-46 px): lines of 22 px read
# as well as the full render (CER 0.0111 vs 0.0112) at 17% less CPU; 20 px cost 0.002 CER more.
SHRINK_ABOVE_LINE_PX = 30  # lines taller than this are shrunk...
SHRINK_TO_LINE_PX = 22  # ...to about this height
MIN_SHRINK_PIXELS = 3_000_000  # a page at 200 dpi or more; receipts and screenshots are smaller
MAX_SHRINK = 0.25  # never below a quarter of the size (a 600 dpi scan read at 150 dpi)
_MIN_LINES = 5  # fewer runs of ink than this is not a page of text whose lines can be trusted
_MIN_RUN_PX = 5


def text_line_height(page: Image.Image) -> float | None:
    """The median height in pixels of the text lines in a grey image; None when unclear.

    Rows holding ink (darker than mid-grey once contrast is stretched) form runs, one per line
    of text. A dark background, a photo or heavy skew gives no clear runs, and then no answer.
    """
    runs = _line_runs(page)
    if not runs:
        return None
    median = statistics.median(runs)
    return median if median < page.height / 2 else None


def ocr_scale(page: Image.Image) -> float:
    """The factor to resize `page` by before OCR: below 1.0 for a large page of tall lines."""
    if page.width * page.height < MIN_SHRINK_PIXELS:
        return 1.0
    runs = _line_runs(page if page.mode == "L" else page.convert("L"))
    if len(runs) < _MIN_LINES:
        return 1.0
    height = statistics.median(runs)
    if height <= SHRINK_ABOVE_LINE_PX:
        return 1.0
    return max(SHRINK_TO_LINE_PX / height, MAX_SHRINK)


def _line_runs(page: Image.Image) -> list[int]:
    """Heights of the runs of rows that hold ink, specks and rules left out."""
    # Stretch the greys first, so faint print (a thermal receipt) still counts as ink.
    ink = ImageOps.autocontrast(page, cutoff=1).point(lambda value: 255 if value < 128 else 0)
    rows = ink.resize((1, page.height), Image.Resampling.BOX).tobytes()  # mean ink per row
    runs: list[int] = []
    run = 0
    for value in rows:
        if value:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    return [r for r in [*runs, run] if r >= _MIN_RUN_PX]
