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
