"""Which queue a document's task goes to: `ocr` for heavy work, `default` for the rest.

Before a document is read only its name is known, so the first guess goes by extension; the
task itself sees the content and moves a document that turns out heavy (an image, a PDF whose
pages have no text layer) to the `ocr` queue.
"""

from __future__ import annotations

from pathlib import PurePath

from docflow.pipeline.detect import IMAGE_FORMATS, detect
from docflow.pipeline.extract.pdf import scan_pdf
from docflow.pipeline.types import Limits
from docflow.worker.celery_app import DEFAULT_QUEUE, OCR_QUEUE

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp",
                              ".gif", ".jp2"})


def queue_for_name(filename: str) -> str:
    return OCR_QUEUE if PurePath(filename).suffix.lower() in IMAGE_EXTENSIONS else DEFAULT_QUEUE


def needs_ocr(data: bytes, filename: str, limits: Limits) -> bool:
    """Whether reading this document means OCR: an image, or a PDF with pages of no text."""
    fmt = detect(data, filename, limits).format
    if fmt in IMAGE_FORMATS:
        return True
    return fmt == "pdf" and bool(scan_pdf(data, limits).ocr_page_numbers)
