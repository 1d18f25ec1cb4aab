"""Which queue a document's task goes to: `ocr` for heavy work, `default` for the rest.

Before a document is read only its name is known, so the first guess goes by extension; the
task itself sees the content and moves a document that turns out heavy (an image, a PDF whose
pages have no text layer) to the `ocr` queue.
"""

from __future__ import annotations

from pathlib import PurePath

from docflow.worker.celery_app import DEFAULT_QUEUE, OCR_QUEUE

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp",
                              ".gif", ".jp2"})


def queue_for_name(filename: str) -> str:
    return OCR_QUEUE if PurePath(filename).suffix.lower() in IMAGE_EXTENSIONS else DEFAULT_QUEUE

