"""A file read only in part completes with a `partial` warning that names what was skipped:
a damaged comments part, header, attachment or archive member costs that part, never the
document, and never silently."""

from __future__ import annotations

import io
import struct
import zipfile

import olefile
import xlsxwriter

from docflow.pipeline import Limits, ProcessedDocument, detect, extract, process_document
from docflow.pipeline.extract.legacy_ppt import ppt_text
from tests.fixtures import make_docx
from tests.fixtures_legacy import (
    DOCUMENT,
    SLIDE,
    TEXT_CHARS,
    chars,
    container,
    make_doc97,
    make_ppt,
    text_header,
)
from tests.fixtures_mail import make_compound_file, make_eml, make_msg
from tests.fixtures_office import make_zip, rewrite_zip

LIMITS = Limits()


def partial_message(result: ProcessedDocument) -> str:
    codes = [warning.code for warning in result.warnings]
    assert codes == ["partial"], codes
    return result.warnings[0].message


def test_a_workbook_with_a_damaged_comments_part_keeps_its_cells() -> None:
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = workbook.add_worksheet("Totals")
    sheet.write("A1", "Invoice total")
    sheet.write("B1", 1234.5)
    sheet.write_comment("A1", "Checked by Rita")
    workbook.close()
    data = rewrite_zip(out.getvalue(), {"xl/comments1.xml": b"<comments><broken"})
    result = process_document(data, "totals.xlsx", LIMITS)
    assert result.extracted.text == "Totals\nInvoice total\t1234.5"
    assert "'xl/comments1.xml' is damaged" in partial_message(result)


def test_a_word_document_with_a_damaged_header_keeps_its_body() -> None:
    data = make_docx(["Dear Ann, the quarterly figures."], header="Letterhead Ltd")
    members = zipfile.ZipFile(io.BytesIO(data)).namelist()
    header = next(name for name in members if name.startswith("word/header"))
    result = process_document(rewrite_zip(data, {header: b"<w:hdr><broken"}), "a.docx", LIMITS)
    assert result.extracted.text == "Dear Ann, the quarterly figures."
    assert f"'{header}' is damaged" in partial_message(result)


def test_an_email_whose_attachment_is_broken_in_transit_says_so() -> None:
    pdf = b"%PDF-1.4 the invoice " * 20
    sound = make_eml("Invoice", "Please find the invoice attached.",
                     attachments=[("invoice.pdf", pdf)])
    lines = sound.split(b"\n")
    body = next(i for i, line in enumerate(lines) if line.startswith(b"JVBERi0xLjQg"))
    lines[body + 1] = lines[body + 1][:20] + b"!!" + lines[body + 1][22:]  # bytes lost in transit
    result = process_document(b"\n".join(lines), "invoice.eml", LIMITS)
    assert [child.filename for child in result.children] == ["invoice.pdf"]
    assert "The attachment 'invoice.pdf' is damaged in the message" in partial_message(result)
    assert process_document(sound, "invoice.eml", LIMITS).warnings == []


def test_an_outlook_message_with_a_damaged_attachment_keeps_the_others() -> None:
    data = bytearray(make_msg("Invoice", "Two files attached.",
                              attachments=[("broken.pdf", b"%PDF-1.4 a" * 50),
                                           ("notes.txt", b"the notes")]))
    # The first attachment's data stream claims to be larger than the whole file.
    entry = data.index("__substg1.0_37010102".encode("utf-16-le"))
    struct.pack_into("<Q", data, entry + 120, len(data) * 2)
    result = process_document(bytes(data), "invoice.msg", LIMITS)
    assert [child.filename for child in result.children] == ["notes.txt"]
    assert "The attachment 'broken.pdf' is damaged" in partial_message(result)


def test_a_zip_with_one_damaged_member_hands_over_the_others() -> None:
    data = bytearray(make_zip({"good.txt": b"Dear Ann, all is well. " * 20,
                               "bad.txt": b"Dear Bob, this one breaks. " * 20}))
    member = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("bad.txt")
    start = member.header_offset + 30 + len(member.filename)
    data[start + 2 : start + 12] = b"\xff" * 10  # its deflated bytes, damaged
    result = process_document(bytes(data), "letters.zip", LIMITS)
    assert [child.filename for child in result.children] == ["good.txt"]
    assert "'bad.txt' is damaged in the archive" in partial_message(result)


def test_a_partial_warning_names_ten_parts_and_counts_the_rest() -> None:
    names = [f"file{number:02d}.txt" for number in range(14)]
    data = _locked(make_zip(dict.fromkeys(names, b"Dear Ann, the text.")), names[1:])
    result = process_document(data, "locked.zip", LIMITS)
    assert [child.filename for child in result.children] == ["file00.txt"]
    message = partial_message(result)
    assert message.count("is password-protected and was skipped") == 10
    assert "'file10.txt'" in message and "'file11.txt'" not in message
    assert "3 more parts were skipped too." in message


def _locked(archive: bytes, names: list[str]) -> bytes:
    """`archive` with the central directory marking `names` as encrypted (flag bit 0)."""
    data = bytearray(archive)
    position = data.index(b"PK\x01\x02")
    while data[position : position + 4] == b"PK\x01\x02":
        flags, = struct.unpack_from("<H", data, position + 8)
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data,
                                                                        position + 28)
        if data[position + 46 : position + 46 + name_length].decode() in names:
            struct.pack_into("<H", data, position + 8, flags | 1)
        position += 46 + name_length + extra_length + comment_length
    return bytes(data)


def test_a_word_97_file_cut_short_keeps_its_text_and_counts_what_is_missing() -> None:
    whole = make_doc97(["Dear Ann,\r", "Footnote " * 400])
    with olefile.OleFileIO(io.BytesIO(whole)) as ole:
        word, table = ole.openstream("WordDocument").read(), ole.openstream("1Table").read()
    # Cut at byte 6,000: of the 3,600 UTF-16 characters from byte 2,560 on, 1,880 are lost.
    cut = make_compound_file({"WordDocument": word[:6000], "1Table": table})
    result = process_document(cut, "letter.doc", LIMITS)
    assert result.extracted.text.startswith("Dear Ann,\nFootnote Footnote")
    assert "1,880 characters of its text lie past the end of the file" in partial_message(result)


def test_a_powerpoint_97_file_cut_short_keeps_the_slides_before_the_cut() -> None:
    slide = container(SLIDE, text_header(1), chars("Quarterly plan"))
    cut_record = struct.pack("<HHI", 0, TEXT_CHARS, 10_000) + "Lost".encode("utf-16-le")
    ppt = make_ppt(container(DOCUMENT, slide) + cut_record)
    extracted = extract(ppt, detect(ppt, "plan.ppt", LIMITS), LIMITS)
    skipped: list[str] = []
    assert ppt_text(ppt, skipped) == "Quarterly plan"
    assert skipped and "cut short" in skipped[0]
    assert "Quarterly plan" in extracted.text
