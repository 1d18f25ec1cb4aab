"""Why a document could not be processed: each error carries a stable code and a sentence.

These are permanent: the same bytes fail the same way, so a worker records the reason on the
document and never retries them.
"""

from __future__ import annotations


class DocumentError(Exception):
    """A document the pipeline cannot read. `code` is stable; `message` is for a person."""

    code = "unreadable"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedFormat(DocumentError):
    code = "unsupported_format"


class EncryptedDocument(DocumentError):
    code = "encrypted"


class CorruptDocument(DocumentError):
    code = "corrupt"


class EmptyDocument(DocumentError):
    code = "empty"


class DocumentTooLarge(DocumentError):
    code = "too_large"


class TooManyPages(DocumentError):
    code = "too_many_pages"


class ProcessingTimeout(DocumentError):
    code = "timeout"


class DecompressionBomb(DocumentError):
    """An archive or package that would unpack far beyond its size, or nests archives too deep."""

    code = "decompression_bomb"


class OcrUnavailable(DocumentError):
    """OCR was needed but cannot run here: a language model (or tesserocr) is not installed.

    Not the document's fault: the message names the package to install, and the same document
    reads once it is there.
    """

    code = "ocr_unavailable"


class OcrDeferred(BaseException):
    """Not an error: a signal that this document needs OCR while OCR is turned off here
    (`OcrOptions.enabled=False`), so the caller can send it where OCR runs. A BaseException,
    so that readers catching every error on a damaged page or frame let it through."""
