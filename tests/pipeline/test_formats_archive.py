"""A ZIP archive completes with a list of its files; each file becomes a child document."""

from __future__ import annotations

import pytest

from docflow.pipeline import EmptyDocument, EncryptedDocument, Limits, detect, extract
from tests.fixtures import make_docx, make_pdf
from tests.fixtures_office import make_zip

LIMITS = Limits()


def read(data: bytes, filename: str, limits: Limits = LIMITS):
    return extract(data, detect(data, filename, limits), limits)


def encrypt_flag(archive: bytes) -> bytes:
    """Mark every member as password-protected, as a ZIP written with a password is."""
    out = bytearray(archive)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = out.find(signature)
        while start != -1:
            out[start + offset] |= 0x1
            start = out.find(signature, start + 4)
    return bytes(out)


def test_each_member_becomes_a_child_with_its_path() -> None:
    pdf, docx = make_pdf(["Report"]), make_docx(["Memo"])
    archive = make_zip(
        {
            "reports/2024/q1.pdf": pdf,
            "memo.docx": docx,
            "__MACOSX/reports/._q1.pdf": b"\x00\x05\x16\x07",
            "reports/.DS_Store": b"\x00\x00\x00\x01Bud1",
        }
    )
    extracted = read(archive, "bundle.zip")
    assert extracted.text.split("\n") == [
        "ZIP archive with 2 files:",
        "reports/2024/q1.pdf",
        "memo.docx",
    ]
    assert [(c.filename, c.path, c.data) for c in extracted.children] == [
        ("q1.pdf", "reports/2024/q1.pdf", pdf),
        ("memo.docx", "memo.docx", docx),
    ]


def test_an_archive_inside_an_archive_is_one_child_read_later() -> None:
    inner = make_zip({"deep.txt": b"deep text"})
    extracted = read(make_zip({"inner.zip": inner, "top.txt": b"top"}), "outer.zip")
    assert [c.filename for c in extracted.children] == ["inner.zip", "top.txt"]
    assert read(extracted.children[0].data, "inner.zip").children[0].data == b"deep text"


def test_member_names_that_climb_out_or_hide_characters_are_made_safe() -> None:
    archive = make_zip(
        {
            "../../etc/passwd": b"root",
            "C:\\Windows\\evil.txt": b"x",
            "dir/\x07bell\u202etxt.exe": b"y",
            "same.txt": b"1",
            "./same.txt": b"2",
        }
    )
    children = read(archive, "odd.zip").children
    assert [(c.filename, c.path) for c in children] == [
        ("passwd", "etc/passwd"),
        ("evil.txt", "Windows/evil.txt"),
        ("belltxt.exe", "dir/belltxt.exe"),
        ("same.txt", "same.txt"),
        ("same.txt", "same (2).txt"),
    ]


def test_a_password_protected_archive_is_encrypted() -> None:
    with pytest.raises(EncryptedDocument):
        read(encrypt_flag(make_zip({"a.txt": b"secret"})), "locked.zip")


def test_an_archive_without_files_is_empty() -> None:
    with pytest.raises(EmptyDocument) as error:
        read(make_zip({"folder/": b""}), "nothing.zip")
    assert "no files" in error.value.message


def test_a_plain_zip_named_docx_is_read_as_an_archive() -> None:
    assert detect(make_zip({"a.txt": b"x"}), "letter.docx", LIMITS).format == "zip"
