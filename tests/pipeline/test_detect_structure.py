"""A file is what its structure says: a ZIP by its directory, an OLE2 file by its root streams.

The first signature at byte 0 is not enough: a ZIP whose first member is a PDF stored
uncompressed has "%PDF-" near its start and the PDF's trailer near its end, and read as a PDF
it lost every other member.
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile

import pytest
from fpdf import FPDF
from PIL import Image

from docflow.pipeline import EncryptedDocument, Limits, UnsupportedFormat, detect, process_document
from docflow.pipeline.extract import extract
from tests.fixtures import make_docx, make_pdf
from tests.fixtures_office import make_epub, make_odf, make_pptx, make_xlsx, make_zip

LIMITS = Limits()
STORED, DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED


def _statement_pdf(text: str = "Statement of account") -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


def _png(size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((size, size), 64).convert("RGB").save(out, "PNG")
    return out.getvalue()


def _members(data: bytes) -> list[str]:
    return sorted(child.path for child in extract(data, detect(data, "x", LIMITS)).children)


@pytest.mark.parametrize("compression", [STORED, DEFLATED])
def test_a_zip_whose_first_member_is_a_pdf_is_an_archive_and_keeps_every_member(
    compression: int,
) -> None:
    archive = make_zip(
        {"march.pdf": _statement_pdf("March"), "notes.txt": b"Call the bank.",
         "april.pdf": _statement_pdf("April")},
        compression,
    )
    assert detect(archive, "statements.zip", LIMITS).format == "zip"
    assert _members(archive) == ["april.pdf", "march.pdf", "notes.txt"]


@pytest.mark.parametrize(
    "first", [b"%PDF-1.4 not really", _png(), b"Plain notes, stored first.\n" * 20]
)
def test_whatever_a_stored_first_member_looks_like_the_archive_is_a_zip(first: bytes) -> None:
    archive = make_zip({"first": first, "second.txt": b"more"}, STORED)
    assert detect(archive, "bundle", LIMITS).format == "zip"


def test_a_docx_whose_first_part_is_a_stored_pdf_is_still_a_docx() -> None:
    docx = make_docx(["Signed contract attached."])
    source = zipfile.ZipFile(io.BytesIO(docx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr(zipfile.ZipInfo("word/embeddings/contract.pdf"), _statement_pdf())
        for item in source.infolist():
            package.writestr(item, source.read(item))
    assert detect(out.getvalue(), "letter.docx", LIMITS).format == "docx"


def test_a_self_extracting_archive_is_read_as_the_archive_behind_its_stub() -> None:
    stub = b"MZ\x90\x00" + os.urandom(4000).replace(b"PK", b"pk")
    archive = stub + make_zip({"a.txt": b"alpha", "b.txt": b"beta"})
    assert detect(archive, "setup.exe", LIMITS).format == "zip"
    assert _members(archive) == ["a.txt", "b.txt"]  # the executable stub is no document


def test_text_in_front_of_an_archive_does_not_hide_it() -> None:
    archive = b"#!/bin/sh\nexec unzip \"$0\"\n" + make_zip({"a.txt": b"alpha"})
    assert detect(archive, "installer.sh", LIMITS).format == "zip"
    assert _members(archive) == ["a.txt", "document-before-archive.txt"]


def test_a_pdf_with_an_archive_appended_loses_neither_the_pdf_nor_the_members() -> None:
    pdf = make_pdf(["Quarterly report " * 200])
    data = pdf + make_zip({"tiny.txt": b"x"})
    assert detect(data, "report.pdf", LIMITS).format == "zip"
    children = extract(data, detect(data, "report.pdf", LIMITS)).children
    assert [child.path for child in children] == ["document-before-archive.pdf", "tiny.txt"]
    leading = children[0].data
    assert leading == pdf
    assert "Quarterly report" in extract(leading, detect(leading, "x.pdf", LIMITS)).text


def test_a_pdf_stub_in_front_of_a_large_archive_is_the_archive_and_a_child() -> None:
    members = {f"scan{n}.png": _png(128) for n in range(4)}
    data = _statement_pdf("Open the attached archive") + make_zip(members, STORED)
    assert detect(data, "bundle.pdf", LIMITS).format == "zip"
    assert _members(data) == ["document-before-archive.pdf", *sorted(members)]


def test_an_image_with_an_archive_appended_gives_the_image_and_the_members() -> None:
    data = _png(256) + make_zip({"a.txt": b"x"})
    assert detect(data, "cat.png", LIMITS).format == "zip"
    assert _members(data) == ["a.txt", "document-before-archive.png"]


def test_an_archive_inside_a_pdf_leaves_it_a_pdf() -> None:
    # An attachment stored uncompressed: the PDF's own xref and trailer come after the ZIP.
    pdf = make_pdf(["Cover letter " * 100])
    body = pdf[: pdf.rindex(b"xref")]
    tail = pdf[pdf.rindex(b"xref"):]
    data = body + b"% attachment follows\n" + make_zip({"a.txt": b"alpha"}) + b"\n" + tail
    assert detect(data, "letter.pdf", LIMITS).format == "pdf"


def test_a_zip_inside_a_tar_leaves_it_a_tar() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        inner = make_zip({"a.txt": b"alpha" * 1000})
        info = tarfile.TarInfo("inner.zip")
        info.size = len(inner)
        tar.addfile(info, io.BytesIO(inner))
    assert detect(out.getvalue(), "backup.tar", LIMITS).format == "tar"


def test_a_stray_end_record_signature_is_not_an_archive() -> None:
    noise = os.urandom(8192).replace(b"PK", b"pk") + b"PK\x05\x06" + b"\x00" * 18
    with pytest.raises(Exception) as error:
        detect(noise, "blob.bin", LIMITS)
    assert getattr(error.value, "code", "") == "unsupported_format"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (make_pptx([("Q3", "Revenue up", "")]), "pptx"),
        (make_xlsx({"Sheet1": [["a", 1]]}), "xlsx"),
        (make_odf("odt", "<office:text><text:p>Hi</text:p></office:text>"), "odt"),
        (make_epub([("One", "<p>Chapter one</p>")]), "epub"),
        (make_zip({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n",
                   "com/example/App.class": b"\xca\xfe\xba\xbe"}), "zip"),
    ],
)
def test_packages_are_named_by_their_manifest_whatever_the_file_name(
    data: bytes, expected: str
) -> None:
    assert detect(data, "upload.bin", LIMITS).format == expected


# --- OLE2: the root storage decides -----------------------------------------------------------

from tests.fixtures_ole2 import (  # noqa: E402
    excel_stream,
    make_compound_file,
    powerpoint_current_user,
    word_stream,
)


def test_a_workbook_with_an_embedded_word_document_is_a_workbook() -> None:
    data = make_compound_file({
        "Workbook": excel_stream(),
        "MBD0001A2B3": {"WordDocument": word_stream(), "1Table": b"\x00"},
    })
    assert detect(data, "budget.xls", LIMITS).format == "xls"


def test_a_word_document_with_an_embedded_workbook_is_a_word_document() -> None:
    data = make_compound_file({
        "WordDocument": word_stream(),
        "ObjectPool": {"_1234567": {"Workbook": excel_stream()}},
    })
    assert detect(data, "memo.doc", LIMITS).format == "doc"


def test_an_outlook_message_with_office_attachments_is_a_message() -> None:
    data = make_compound_file({
        "__properties_version1.0": b"\x00" * 32,
        "__substg1.0_0037001F": "Invoice".encode("utf-16-le"),
        "__attach_version1.0_#00000000": {"__substg1.0_3701000D": {"Workbook": excel_stream()}},
    })
    assert detect(data, "mail.msg", LIMITS).format == "msg"


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        ({"workbook": excel_stream()}, "xls"),
        ({"BOOK": excel_stream()}, "xls"),
        ({"worddocument": word_stream()}, "doc"),
        ({"powerpoint document": b"\x00", "current user": powerpoint_current_user()}, "ppt"),
    ],
)
def test_root_stream_names_count_whatever_their_case(tree: dict, expected: str) -> None:
    detected = detect(make_compound_file(tree), "legacy", LIMITS)
    assert (detected.format, detected.encrypted) == (expected, False)


@pytest.mark.parametrize(
    ("tree", "name", "expected"),
    [
        ({"EncryptionInfo": b"\x04\x00", "EncryptedPackage": b"\x00"}, "pay.xlsx", "xlsx"),
        ({"encryptioninfo": b"\x04\x00", "ENCRYPTEDPACKAGE": b"\x00"}, "pay.docx", "docx"),
        ({"WordDocument": word_stream(encrypted=True), "1Table": b"\x00"}, "old.doc", "doc"),
        ({"Workbook": excel_stream(encrypted=True)}, "old.xls", "xls"),
        ({"PowerPoint Document": b"\x00",
          "Current User": powerpoint_current_user(encrypted=True)}, "old.ppt", "ppt"),
        ({"PowerPoint Document": b"\x00", "Current User": powerpoint_current_user(),
          "EncryptedSummary": b"\x00"}, "summary.ppt", "ppt"),
    ],
)
def test_a_password_protected_office_file_is_encrypted_not_corrupt(
    tree: dict, name: str, expected: str
) -> None:
    data = make_compound_file(tree)
    detected = detect(data, name, LIMITS)
    assert (detected.format, detected.encrypted) == (expected, True)
    with pytest.raises(EncryptedDocument) as error:
        extract(data, detected, LIMITS)
    assert error.value.code == "encrypted"


def test_a_powerpoint_4_file_fails_as_unsupported_with_what_to_do_not_as_corrupt() -> None:
    # PowerPoint 4.0 keeps its slides in a "PP40" stream whose layout was never published.
    data = make_compound_file({"PP40": b"\x00\x01" * 2048, "Current User": b"\x08\x00"})
    detected = detect(data, "deck-1994.ppt", LIMITS)
    assert detected.format == "ppt40"
    with pytest.raises(UnsupportedFormat) as error:
        process_document(data, "deck-1994.ppt", LIMITS)
    assert error.value.code == "unsupported_format"
    assert error.value.message.startswith("PowerPoint 4.0 (1994) files are not read")
    assert "save it as .pptx" in error.value.message


def test_a_powerpoint_95_file_with_a_pp40_copy_is_still_a_ppt() -> None:
    data = make_compound_file({"PowerPoint Document": b"\x00", "PP40": b"\x00",
                               "Current User": powerpoint_current_user()})
    assert detect(data, "deck.ppt", LIMITS).format == "ppt"
