"""Word 97-2003, Word 6/95 and PowerPoint 97-2003 files read by their record structures."""

from __future__ import annotations

import struct

import pytest

from docflow.pipeline import CorruptDocument, EncryptedDocument, Limits, detect, extract
from docflow.pipeline.extract.legacy_doc import doc_text
from docflow.pipeline.extract.legacy_ppt import ppt_text
from tests.fixtures_legacy import (
    COMMENT,
    CRYPT_SESSION,
    CSTRING,
    DOCUMENT,
    MAIN_MASTER,
    NOTES,
    SLIDE,
    chars,
    container,
    make_doc6,
    make_doc97,
    make_ppt,
    record,
    text_bytes,
    text_header,
)
from tests.fixtures_mail import make_compound_file

LIMITS = Limits()


def read(data: bytes, name: str) -> str:
    return extract(data, detect(data, name, LIMITS), LIMITS).text


# --- Word 97-2003 ----------------------------------------------------------------------------


def test_word97_reads_every_story_across_8_bit_and_utf16_pieces() -> None:
    doc = make_doc97(
        [
            "Café report\rSee \x13 HYPERLINK \"http://x.test\" \x14our site\x15 now\r",
            "\x02 Source: annual report\r",
            "\x05 Check this figure\r",
            "\x02 Endnote text\r",
            "Boxed remark\r",
        ],
        headers=["\x03\r", "Letterhead Ltd\r", "Page footer\r", "Letterhead Ltd\r"],
    )
    assert read(doc, "report.doc").split("\n") == [
        "Café report",
        "See our site now",  # the field's result, not its instruction
        " Source: annual report",
        "Letterhead Ltd",  # each distinct header or footer once
        "Page footer",
        " Check this figure",
        " Endnote text",
        "Boxed remark",
    ]


def test_word97_unicode_body_and_table_marks() -> None:
    doc = make_doc97(["Пример\rA1\x07B1\x07\x07A2\x07B2\x07\x07日本\r", ""], compressed_body=False)
    assert doc_text(doc).split("\n") == ["Пример", "A1\tB1", "A2\tB2", "日本"]


def test_nested_fields_keep_only_the_outer_result() -> None:
    body = "Total: \x13 =SUM \x13 REF a \x14inner\x15 \x1442\x15.\r"
    assert doc_text(make_doc97([body, ""])) == "Total: 42."


def test_an_encrypted_word97_file_says_so() -> None:
    with pytest.raises(EncryptedDocument):
        read(make_doc97(["Secret\r", ""], encrypted=True), "secret.doc")


def test_a_broken_piece_table_is_corrupt_not_a_crash() -> None:
    doc = bytearray(make_doc97(["Some text\r", ""]))
    table = make_compound_file({"WordDocument": b"\xec\xa5" + b"\x00" * 0x600, "0Table": b""})
    with pytest.raises(CorruptDocument):
        doc_text(table)
    with pytest.raises(CorruptDocument):
        doc_text(bytes(doc[:1024]))


# --- Word 6/95 -------------------------------------------------------------------------------


def test_word6_plain_file_reads_its_8_bit_text() -> None:
    assert read(make_doc6("Old memo\rSecond line\r"), "memo.doc") == "Old memo\nSecond line"


def test_word6_text_follows_the_language_code_page() -> None:
    assert doc_text(make_doc6("Привет\r", lid=0x0419)) == "Привет"


def test_word6_fast_saved_file_follows_its_piece_table() -> None:
    text = "First half of the text, then the second half.\r"
    assert read(make_doc6(text, fast_saved=True), "fast.doc") == text.rstrip("\r")


# --- PowerPoint 97-2003 ----------------------------------------------------------------------


def _deck() -> bytes:
    master = container(
        MAIN_MASTER,
        text_header(0), chars("Click to edit Master title style"),
        text_header(4), chars("Acme Corp confidential"),
    )
    document = container(
        DOCUMENT,
        text_header(0), chars("Quarterly review\rSecond line"),
        text_header(1), text_bytes("Revenue up 12% \xe9"),
        text_header(4), chars("*"),
    )
    slide = container(SLIDE, container(0xF002, container(0xF00D, chars("Boxed remark"))))
    notes = container(NOTES, text_header(2), chars("Say thanks"))
    comment = container(
        COMMENT, record(CSTRING, "Rita".encode("utf-16-le"), instance=0),
        record(CSTRING, "Check this".encode("utf-16-le"), instance=1),
    )
    return make_ppt(document + master + slide + notes + comment)


def test_ppt_reads_text_atoms_notes_and_comments_without_master_prompts() -> None:
    assert ppt_text(_deck()).split("\n") == [
        "Quarterly review",
        "Second line",
        "Revenue up 12% é",
        "Acme Corp confidential",
        "Boxed remark",
        "Say thanks",
        "Check this",
    ]


def test_where_kreuzberg_finds_nothing_the_record_reader_does() -> None:
    body = chars("Kept text")
    stream = struct.pack("<HHI", 0x000F, DOCUMENT, len(body) + 100) + body  # claims 100 more
    assert read(make_ppt(stream), "cut.ppt") == "Kept text"


def test_a_record_cut_short_keeps_what_came_before() -> None:
    stream = container(DOCUMENT, chars("Kept text")) + struct.pack("<HHI", 0, 0x0FA0, 10**6)
    assert ppt_text(make_ppt(stream)) == "Kept text"


def test_deep_containers_do_not_recurse() -> None:
    stream = chars("Deep")
    for _ in range(5000):
        stream = container(0x1000, stream)
    assert ppt_text(make_ppt(stream)) == ""  # past the depth limit, skipped, not a crash


def test_an_encrypted_ppt_says_so() -> None:
    stream = container(DOCUMENT, container(CRYPT_SESSION, record(0x2F15, b"\x00" * 8)))
    with pytest.raises(EncryptedDocument):
        ppt_text(make_ppt(stream))


def test_overlapping_pieces_cannot_blow_the_text_up() -> None:
    word = bytearray(0x1000)
    struct.pack_into("<HHHHHH", word, 0, 0xA5EC, 0xC1, 0, 0x0409, 0, 0x0200)
    word[0x800:0x810] = b"A" * 16
    count = 50_000  # every piece is the same 16 bytes of text
    cps = struct.pack(f"<{count + 1}I", *range(0, 16 * (count + 1), 16))
    plc = cps + struct.pack("<HIH", 0, (0x800 * 2) | 0x40000000, 0) * count
    clx = b"\x02" + struct.pack("<I", len(plc)) + plc
    struct.pack_into("<II", word, 0x1A2, 0, len(clx))
    doc = make_compound_file({"WordDocument": bytes(word), "1Table": clx})
    assert len(doc_text(doc)) <= len(word)
