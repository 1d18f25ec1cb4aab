"""A file is what its bytes say, whatever its name says."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from docflow.pipeline import (
    DocumentTooLarge,
    EmptyDocument,
    Limits,
    UnsupportedFormat,
    detect,
)
from tests.fixtures import make_docx, make_encrypted_docx, make_ole2, make_pdf

LIMITS = Limits()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_a_pdf_and_a_docx_are_recognised_by_content() -> None:
    assert detect(make_pdf(["hello"]), "a.pdf", LIMITS).format == "pdf"
    detected = detect(make_docx(["hello"]), "a.docx", LIMITS)
    assert detected.format == "docx"
    assert detected.mime_type.endswith("wordprocessingml.document")


def test_an_extension_that_lies_is_ignored() -> None:
    assert detect(b"Just some plain notes.\n", "report.pdf", LIMITS).format == "text"
    assert detect(make_pdf(["hello"]), "notes.txt", LIMITS).format == "pdf"
    assert detect(make_docx(["hello"]), "scan.png", LIMITS).format == "docx"


def test_text_that_mentions_the_pdf_header_is_still_text() -> None:
    notes = b"How PDFs start: every file begins with %PDF-1.x and ends with a trailer.\n"
    assert detect(notes, "notes.pdf", LIMITS).format == "text"


def test_random_bytes_named_pdf_are_unsupported_and_the_message_says_why() -> None:
    junk = os.urandom(4096).replace(b"%PDF", b"xxxx")
    with pytest.raises(UnsupportedFormat) as error:
        detect(junk, "invoice.pdf", LIMITS)
    assert error.value.code == "unsupported_format"
    assert ".pdf" in error.value.message


def test_an_empty_file_is_empty() -> None:
    with pytest.raises(EmptyDocument) as error:
        detect(b"", "nothing.txt", LIMITS)
    assert error.value.code == "empty"


def test_a_file_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(DocumentTooLarge) as error:
        detect(b"x" * 101, "big.txt", Limits(max_file_bytes=100))
    assert error.value.code == "too_large"


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ({"xl/workbook.xml": b"<workbook/>"}, "xlsx"),
        ({"ppt/presentation.xml": b"<presentation/>"}, "pptx"),
        ({"mimetype": b"application/vnd.oasis.opendocument.text"}, "odt"),
        ({"mimetype": b"application/epub+zip"}, "epub"),
        ({"readme.txt": b"hi"}, "zip"),
    ],
)
def test_zip_based_formats_are_named_by_their_layout(members: dict, expected: str) -> None:
    assert detect(_zip(members), "upload.bin", LIMITS).format == expected


def test_a_broken_docx_is_still_called_a_docx_so_its_reader_can_explain() -> None:
    assert detect(b"PK\x03\x04" + b"\x00" * 200, "letter.docx", LIMITS).format == "docx"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 32, "jpeg"),
        (b"GIF89a" + b"\x00" * 32, "gif"),
        (b"II*\x00" + b"\x00" * 32, "tiff"),
        (b"BM" + b"\x00" * 12 + b"\x28\x00\x00\x00" + b"\x00" * 32, "bmp"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 32, "webp"),
        (b"{\\rtf1\\ansi Hello}", "rtf"),
    ],
)
def test_images_and_rtf_are_recognised_by_magic_bytes(data: bytes, expected: str) -> None:
    assert detect(data, "file", LIMITS).format == expected


def test_text_that_starts_with_bm_is_not_a_bitmap() -> None:
    assert detect(b"BMW quarterly figures\n", "cars.txt", LIMITS).format == "text"


def test_password_protected_office_file_is_flagged_encrypted() -> None:
    detected = detect(make_encrypted_docx(), "salaries.docx", LIMITS)
    assert (detected.format, detected.encrypted) == ("docx", True)


def test_legacy_word_file_is_named_doc() -> None:
    assert detect(make_ole2({"WordDocument": b"\x00" * 100}), "old.doc", LIMITS).format == "doc"


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"<!DOCTYPE html><html><body>Hi</body></html>", "page", "html"),
        (b"  <html><p>Hi</p></html>", "page.txt", "html"),
        (b'<?xml version="1.0"?><root><a>1</a></root>', "data", "xml"),
        (b"<h3>Jahresabschluss 2020</h3>", "fragment.html", "html"),
        (b"No markup here at all.", "mislabelled.html", "text"),
        ("<html><body>Hi</body></html>".encode("utf-16"), "page", "html"),
        (b"a,b,c\n1,2,3\n", "table.csv", "csv"),
        (b"a\tb\n1\t2\n", "table.tsv", "tsv"),
        (b"# Title\n\nSome *markdown*.\n", "readme.md", "markdown"),
        (b'{"a": 1}', "data.json", "json"),
        ("Ünïcödé text".encode("utf-16"), "notes", "text"),
        ("Café crème, très bien.".encode("latin-1"), "notes.txt", "text"),
    ],
)
def test_markup_and_text_flavours(data: bytes, filename: str, expected: str) -> None:
    assert detect(data, filename, LIMITS).format == expected
