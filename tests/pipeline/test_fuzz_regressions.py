"""Inputs the fuzzer (bench/fuzz.py) once crashed a reader with: each now fails, if at all, as a
document error with a reason, never as an exception the worker does not expect."""

from __future__ import annotations

import base64
import contextlib

import pytest

from docflow.config import Settings
from docflow.pipeline.detect import detect
from docflow.pipeline.errors import DocumentError
from docflow.pipeline.extract import extract

FINDINGS = {
    # A central-directory entry cut short at the end of the file: struct.error in detect.
    "zip-central-directory-cut-short": (
        "UEsDBBQAgAEAMEotstEvsAMAUEsBAhQDFAAAAAgA1mOHXU6GChZIAAAASQAAAAUAAAAAAAAAAAAAAIABAAAAAGEu"
        "dHh0UEsBAhQDFAAAAAgA1mOHXepfUhUPAAAADTsAAFAU//4DS1BLAwQUAAAA//9/DAAAAAAjAAAt1mOHXU6GChZI"
        "AAAASQAAAAUAAAAAAAAAAAAAAIABAAAAAGEudHh0UEsBAhQDFAAAAMBQSwUGAAAAAAIAAgBrAAAAogAAAAAA"
    ),
}


@pytest.mark.parametrize("name", sorted(FINDINGS))
@pytest.mark.parametrize("filename", ["x.zip", "x.docx", "x.txt", "x"])
def test_a_fuzzer_finding_fails_as_a_document_error_or_reads(name: str, filename: str) -> None:
    data = base64.b64decode(FINDINGS[name])
    limits = Settings().limits
    with contextlib.suppress(DocumentError):
        extract(data, detect(data, filename, limits), limits)
