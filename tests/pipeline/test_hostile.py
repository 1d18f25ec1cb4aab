"""Hostile and broken input fails alone, quickly, with a stable reason code and a sentence."""

from __future__ import annotations

import io
import os
import random
import struct
import time
import zipfile
import zlib

import pytest

from docflow.pipeline import DocumentError, Limits, detect, process_document
from tests.fixtures import make_docx, make_encrypted_docx, make_encrypted_pdf, make_pdf
from tests.fixtures_mail import make_eml, make_msg
from tests.fixtures_office import (
    make_epub,
    make_full_docx,
    make_odf,
    make_pptx,
    make_rtf,
    make_xlsx,
    make_zip,
    rewrite_zip,
)
from tests.pipeline.test_formats_archive import encrypt_flag

LIMITS = Limits()
SAMPLES = {
    ".pdf": make_pdf(["Quarterly report with enough words to matter."]),
    ".docx": make_full_docx(),
    ".xlsx": make_xlsx({"Data": [["Item", "Cost"], ["Paper", 12.5]]}),
    ".pptx": make_pptx([("Title", "Body text", "Notes")]),
    ".odt": make_odf("odt", "<office:text><text:p>Hello ODF</text:p></office:text>"),
    ".epub": make_epub([("Chapter", "Once upon a time.")]),
    ".rtf": make_rtf(["Rich text body"]),
    ".msg": make_msg("Subject line", "Message body", attachments=[("a.txt", b"attached")]),
    ".eml": make_eml("Subject line", "Message body\n", attachments=[("a.txt", b"attached")]),
    ".zip": make_zip({"a.txt": b"first", "b.txt": b"second"}),
}


def outcome(data: bytes, filename: str, limits: Limits = LIMITS) -> str:
    """"ok" or the error code; anything but a DocumentError fails the test."""
    try:
        process_document(data, filename, limits)
    except DocumentError as error:
        assert error.message.endswith("."), error.message
        return error.code
    return "ok"


def test_every_sample_reads() -> None:
    assert {ext: outcome(data, "file" + ext) for ext, data in SAMPLES.items()} == dict.fromkeys(
        SAMPLES, "ok"
    )


# --- password protection ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (make_encrypted_pdf(["secret"]), "secret.pdf"),
        (make_encrypted_docx(), "secret.docx"),
        (make_encrypted_docx(), "secret.xlsx"),
        (make_encrypted_docx(), "secret.pptx"),
        (make_odf("odt", "<office:text/>", encrypted=True), "secret.odt"),
        (make_msg("Secret", message_class="IPM.Note.SMIME"), "secret.msg"),
        (encrypt_flag(make_zip({"a.txt": b"x"})), "secret.zip"),
        (
            make_epub(
                [("c", "p")],
                encryption_xml='<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:'
                'container"><EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#">'
                '<EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
                '<CipherData><CipherReference URI="c0.xhtml"/></CipherData></EncryptedData>'
                "</encryption>",
            ),
            "drm.epub",
        ),
    ],
    ids=["pdf", "docx", "xlsx", "pptx", "odt", "msg", "zip", "epub-drm"],
)
def test_password_protected_files_are_encrypted(data: bytes, filename: str) -> None:
    assert outcome(data, filename) == "encrypted"


def test_an_epub_with_only_obfuscated_fonts_is_not_encrypted() -> None:
    epub = make_epub(
        [("c", "Readable text")],
        encryption_xml='<encryption><EncryptedData><EncryptionMethod '
        'Algorithm="http://www.idpf.org/2008/embedding"/></EncryptedData></encryption>',
    )
    assert outcome(epub, "book.epub") == "ok"


# --- truncated, random and empty files -------------------------------------------------------


@pytest.mark.parametrize("ext", list(SAMPLES))
def test_truncated_files_are_corrupt_or_read_in_part(ext: str) -> None:
    data = SAMPLES[ext]
    for cut in (len(data) // 2, len(data) - 30, 40):
        assert outcome(data[:cut], "cut" + ext) in {"ok", "corrupt", "empty"}


@pytest.mark.parametrize("ext", list(SAMPLES))
def test_random_bytes_with_a_document_extension_are_unsupported(ext: str) -> None:
    junk = os.urandom(8192).replace(b"%PDF", b"----")
    assert outcome(junk, "random" + ext) == "unsupported_format"


@pytest.mark.parametrize(
    ("magic", "ext"),
    [
        (b"PK\x03\x04", ".docx"),
        (b"PK\x03\x04", ".xlsx"),
        (b"PK\x03\x04", ".odt"),
        (b"PK\x03\x04", ".zip"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".msg"),
        (b"%PDF-1.7\n", ".pdf"),
    ],
)
def test_random_bytes_behind_a_real_signature_are_corrupt(magic: bytes, ext: str) -> None:
    assert outcome(magic + os.urandom(8192), "random" + ext) == "corrupt"


@pytest.mark.parametrize("ext", [*SAMPLES, ".txt", ".png"])
def test_zero_bytes_are_empty(ext: str) -> None:
    assert outcome(b"", "nothing" + ext) == "empty"


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (SAMPLES[".docx"], "invoice.pdf", "docx"),
        (SAMPLES[".pdf"], "letter.docx", "pdf"),
        (SAMPLES[".xlsx"], "notes.txt", "xlsx"),
        (SAMPLES[".msg"], "mail.eml", "msg"),
        (SAMPLES[".eml"], "scan.png", "eml"),
        (SAMPLES[".zip"], "report.docx", "zip"),
        (b"<html><body><p>Hello</p></body></html>", "photo.jpg", "html"),
    ],
)
def test_an_extension_that_lies_is_overruled_by_the_content(
    data: bytes, filename: str, expected: str
) -> None:
    assert detect(data, filename, LIMITS).format == expected
    assert outcome(data, filename) == "ok"


# --- decompression bombs ---------------------------------------------------------------------


def _declare_size(archive: bytes, size: int) -> bytes:
    """Rewrite every member's declared uncompressed size (local and central headers)."""
    out = bytearray(archive)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = out.find(signature)
        while start != -1:
            struct.pack_into("<I", out, start + offset, size)
            start = out.find(signature, start + 4)
    return bytes(out)


def test_a_zip_bomb_is_refused_from_its_declared_sizes() -> None:
    bomb = _declare_size(make_zip({"a.txt": b"x" * 10_000, "b.txt": b"y" * 10_000}), 4_000_000_000)
    started = time.process_time()
    assert outcome(bomb, "bomb.zip") == "decompression_bomb"
    assert time.process_time() - started < 1


def test_a_zip_bomb_is_refused_from_its_ratio() -> None:
    bomb = make_zip({"zeros.bin": b"\x00" * 30_000_000})  # 30 MB in about 30 KB
    assert len(bomb) < 100_000
    assert outcome(bomb, "bomb.zip") == "decompression_bomb"


def test_a_member_that_inflates_past_its_declared_size_stops_there() -> None:
    honest = make_zip({"a.txt": b"a" * 2_000_000})
    lying = _declare_size(honest, 1000)  # claims 1 KB; never more than that is inflated
    assert outcome(lying, "liar.zip") == "corrupt"


def test_archives_nested_past_the_depth_limit_are_a_bomb() -> None:
    def nested(depth: int) -> bytes:
        data = b"the bottom"
        for level in range(depth):
            data = make_zip({f"level{level}.zip" if level else "bottom.txt": data})
        return data

    limits = Limits(max_archive_depth=3)
    assert outcome(nested(4), "ok.zip", limits) == "ok"  # 3 archives inside the outer one
    assert outcome(nested(5), "deep.zip", limits) == "decompression_bomb"


def test_a_pyramid_of_archives_counts_every_level_against_one_budget() -> None:
    ledger = "".join(f"line {i} of the ledger\n" for i in range(20_000)).encode()  # 0.4 MB
    layer = make_zip({f"{i}.txt": ledger for i in range(4)})  # 1.6 MB in about 0.2 MB
    for _ in range(2):
        layer = make_zip({f"{i}.zip": layer for i in range(4)}, compression=zipfile.ZIP_STORED)
    limits = Limits(max_unpacked_bytes=8_000_000)
    assert outcome(layer, "pyramid.zip", limits) == "decompression_bomb"  # 16 x 1.6 MB inside
    assert outcome(layer, "pyramid.zip", Limits(max_unpacked_bytes=40_000_000)) == "ok"


def test_too_many_members_is_too_large() -> None:
    archive = make_zip({f"{i}.txt": b"x" for i in range(6)})
    assert outcome(archive, "many.zip", Limits(max_archive_members=5)) == "too_large"


@pytest.mark.parametrize("part", ["word/document.xml", "xl/worksheets/sheet1.xml"])
def test_office_packages_with_a_bomb_inside_are_refused_before_parsing(part: str) -> None:
    base = SAMPLES[".docx"] if part.startswith("word") else SAMPLES[".xlsx"]
    bomb = rewrite_zip(base, {part: b"<x>" + b" " * 40_000_000 + b"</x>"})
    assert outcome(bomb, "bomb" + (".docx" if part.startswith("word") else ".xlsx")) == (
        "decompression_bomb"
    )


# --- huge images -----------------------------------------------------------------------------


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
        + struct.pack(">I", zlib.crc32(chunk)) + b"\x00" * 64
    )


HUGE_IMAGES = {
    "png": _png_header(50_000, 50_000),
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", 50_000, 50_000) + b"\x03" + b"\x00" * 64,
    "gif": b"GIF89a" + struct.pack("<HH", 65_535, 65_535) + b"\x00" * 64,
    "bmp": b"BM" + b"\x00" * 12 + struct.pack("<Iii", 40, 50_000, -50_000) + b"\x00" * 64,
    "tiff": b"II*\x00" + struct.pack("<IH", 8, 2)
    + struct.pack("<HHII", 256, 4, 1, 50_000) + struct.pack("<HHII", 257, 4, 1, 50_000)
    + b"\x00" * 64,
    "webp": b"RIFF\x00\x00\x00\x00WEBPVP8X" + struct.pack("<I", 10) + b"\x00" * 4
    + (49_999).to_bytes(3, "little") + (49_999).to_bytes(3, "little") + b"\x00" * 64,
}


@pytest.mark.parametrize("fmt", list(HUGE_IMAGES))
def test_an_image_of_50000_by_50000_pixels_is_too_large_before_decoding(fmt: str) -> None:
    data = HUGE_IMAGES[fmt]
    assert len(data) < 200
    with pytest.raises(DocumentError) as error:
        detect(data, "huge." + fmt, LIMITS)
    assert error.value.code == "too_large"
    assert "pixel" in error.value.message


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd.docx",
        "..\\..\\boot.ini.docx",
        "a\x00b\n\x1b[31m\u202efdp.docx",
        "x" * 5000,
    ],
)
def test_a_hostile_filename_changes_nothing(filename: str) -> None:
    expected = process_document(SAMPLES[".docx"], "report.docx").extracted.text
    assert process_document(SAMPLES[".docx"], filename).extracted.text == expected


def test_a_zip_bomb_never_holds_its_unpacked_size_in_memory() -> None:
    tracemalloc = pytest.importorskip("tracemalloc")
    bomb = make_zip({"zeros.bin": b"\x00" * 30_000_000})
    tracemalloc.start()
    try:
        outcome(bomb, "bomb.zip")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000


def test_a_docx_with_a_mislabelled_main_part_is_corrupt_not_a_crash() -> None:
    broken = rewrite_zip(make_docx(["x"]), {"word/document.xml": b"<not-closed"})
    assert outcome(broken, "broken.docx") == "corrupt"
    inner = zipfile.ZipFile(io.BytesIO(make_docx(["x"])))
    assert "word/document.xml" in inner.namelist()


def _mutations(data: bytes, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 30)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        cut = rng.choice([len(damaged), rng.randrange(1, len(damaged))])
        out.append(bytes(damaged[:cut]))
    return out


@pytest.mark.parametrize("ext", [ext for ext in SAMPLES if ext != ".pdf"])
def test_damaged_files_fail_only_with_document_errors(ext: str) -> None:
    for damaged in _mutations(SAMPLES[ext], count=25, seed=len(ext)):
        outcome(damaged, "damaged" + ext)  # raises if anything but a DocumentError escapes
