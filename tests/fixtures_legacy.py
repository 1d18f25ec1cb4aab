"""Word 97-2003, Word 6/95, PowerPoint 97-2003 and Excel 97-2003 files made at test time, laid
out as the formats specify (FIB, CLX piece table, PlcfHdd; PowerPoint records; BIFF8 records)
inside an OLE2 file."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from tests.fixtures_mail import make_compound_file

_F_COMPLEX, _F_ENCRYPTED, _F_TABLE1 = 0x0004, 0x0100, 0x0200


def _clx(pieces: Sequence[tuple[int, int]], cps: Sequence[int]) -> bytes:
    """A CLX: one property-modifier block (skipped by readers), then the piece table."""
    plc = struct.pack(f"<{len(cps)}I", *cps)
    for offset, _ in pieces:
        plc += struct.pack("<HIH", 0, offset, 0)
    prc = b"\x01" + struct.pack("<H", 2) + b"\x00\x00"
    return prc + b"\x02" + struct.pack("<I", len(plc)) + plc


def make_doc97(
    stories: Sequence[str],
    headers: Sequence[str] = (),
    compressed_body: bool = True,
    encrypted: bool = False,
) -> bytes:
    """A Word 97-2003 file. `stories`: body, footnotes, then comments, endnotes, text boxes;
    `headers`: the header and footer stories, kept between footnotes and comments. Text is as
    Word keeps it (\\r ends a paragraph, \\x07 a cell, \\x13..\\x14..\\x15 a field). The body
    goes in an 8-bit ("compressed") piece, everything after it in a UTF-16 piece."""
    body, footnotes, *rest = stories
    header_text = "".join(headers)
    after = footnotes + header_text + "".join(rest)
    word = bytearray(0x1000)
    body_at, after_at = 0x800, 0xA00
    body_bytes = body.encode("cp1252") if compressed_body else body.encode("utf-16-le")
    word[body_at : body_at + len(body_bytes)] = body_bytes
    after_bytes = after.encode("utf-16-le")
    word[after_at : after_at + len(after_bytes)] = after_bytes
    body_fc = (body_at * 2) | 0x40000000 if compressed_body else body_at
    cps = [0, len(body), len(body) + len(after)]
    clx = _clx([(body_fc, len(body)), (after_at, len(after))], cps)
    bounds, at = [], 0
    for header in headers:
        bounds.append(at)
        at += len(header)
    plcf_hdd = struct.pack(f"<{len(bounds) + 1}I", *bounds, at) if headers else b""
    table = clx + plcf_hdd
    flags = _F_TABLE1 | _F_COMPLEX | (_F_ENCRYPTED if encrypted else 0)
    struct.pack_into("<HHHHHH", word, 0, 0xA5EC, 0xC1, 0, 0x0409, 0, flags)
    comments, endnotes, boxes = (rest + ["", "", ""])[:3]
    lengths = [len(body), len(footnotes), len(header_text), 0, len(comments), len(endnotes),
               len(boxes), 0]
    struct.pack_into("<8I", word, 0x4C, *lengths)
    struct.pack_into("<II", word, 0x1A2, 0, len(clx))  # fcClx, lcbClx
    if headers:
        struct.pack_into("<II", word, 0xF2, len(clx), len(plcf_hdd))  # fcPlcfHdd, lcb
    return make_compound_file({"WordDocument": bytes(word), "1Table": table})


def make_doc6(text: str, fast_saved: bool = False, lid: int = 0x0409) -> bytes:
    """A Word 6/95 file holding `text` as its body, in the code page of `lid`. Fast-saved:
    the text is stored in two pieces out of order, as a piece table in the WordDocument
    stream says."""
    codec = {0x0419: "cp1251"}.get(lid, "cp1252")
    encoded = text.encode(codec)
    word = bytearray(0x1000)
    struct.pack_into("<HHHHHH", word, 0, 0xA5DC, 101, 0, lid, 0,
                     _F_COMPLEX if fast_saved else 0)
    struct.pack_into("<8I", word, 0x34, len(text), 0, 0, 0, 0, 0, 0, 0)
    if not fast_saved:
        word[0x300 : 0x300 + len(encoded)] = encoded
        struct.pack_into("<II", word, 0x18, 0x300, 0x300 + len(encoded))
        return make_compound_file({"WordDocument": bytes(word)})
    half = len(encoded) // 2
    word[0x600 : 0x600 + half] = encoded[:half]  # the first half, saved later, lies after
    word[0x400 : 0x400 + len(encoded) - half] = encoded[half:]
    clx = _clx([(0x600, half), (0x400, len(encoded) - half)], [0, half, len(encoded)])
    word[0x800 : 0x800 + len(clx)] = clx
    struct.pack_into("<II", word, 0x18, 0x400, 0x600 + half)
    struct.pack_into("<II", word, 0x160, 0x800, len(clx))
    return make_compound_file({"WordDocument": bytes(word)})


# --- PowerPoint ------------------------------------------------------------------------------

DOCUMENT, SLIDE, NOTES, MAIN_MASTER, COMMENT = 0x03E8, 0x03EE, 0x03F0, 0x03F8, 0x2EE0
TEXT_HEADER, TEXT_CHARS, TEXT_BYTES, CSTRING = 0x0F9F, 0x0FA0, 0x0FA8, 0x0FBA
CRYPT_SESSION = 0x2F14


def record(kind: int, body: bytes = b"", instance: int = 0) -> bytes:
    return struct.pack("<HHI", instance << 4, kind, len(body)) + body


def container(kind: int, *children: bytes) -> bytes:
    body = b"".join(children)
    return struct.pack("<HHI", 0x000F, kind, len(body)) + body


def text_header(text_type: int) -> bytes:
    return record(TEXT_HEADER, struct.pack("<I", text_type))


def chars(text: str) -> bytes:
    return record(TEXT_CHARS, text.encode("utf-16-le"))


def text_bytes(text: str) -> bytes:
    return record(TEXT_BYTES, text.encode("latin-1"))


def make_ppt(stream: bytes) -> bytes:
    """A PowerPoint 97-2003 file whose `PowerPoint Document` stream is `stream`."""
    return make_compound_file({"PowerPoint Document": stream, "Current User": b"\x00" * 20})


# --- Excel 97-2003 (BIFF8) ------------------------------------------------------------------

_XF_STYLES = 15  # Excel's workbooks open with 15 style XFs; cell XFs follow


def _biff(kind: int, body: bytes) -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


def _biff_string(text: str, length_bytes: str = "H") -> bytes:
    return struct.pack(f"<{length_bytes}B", len(text), 1) + text.encode("utf-16-le")


def _biff_bof(kind: int) -> bytes:  # 0x0005 workbook globals, 0x0010 worksheet
    return _biff(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))


def _biff_xf(format_index: int, style: bool = False) -> bytes:
    kind = 0xFFF5 if style else 0x0001
    return _biff(0x00E0, struct.pack("<HHHBBBBIIH", 0, format_index, kind, 0x20, 0, 0, 0, 0,
                                     0, 0x20C0))


def make_xls(rows: Sequence[Sequence[tuple[float, str]]], sheet: str = "Sheet1") -> bytes:
    """An Excel 97-2003 workbook whose one sheet holds `rows` of (number, number format)
    cells from A1 on, each cell with an XF of its own pointing at its format."""
    codes: dict[str, int] = {}
    for row in rows:
        for _, code in row:
            codes.setdefault(code, 164 + len(codes))  # 164 on: custom formats
    font = _biff(0x0031, struct.pack("<HHHHHBBBB", 200, 0, 0x7FFF, 400, 0, 0, 0, 0, 0)
                 + _biff_string("Arial", "B"))
    cells = [code for row in rows for _, code in row]
    head = b"".join([
        _biff_bof(0x0005), _biff(0x0042, struct.pack("<H", 1200)),  # CODEPAGE: UTF-16
        font * 5,  # Excel writes five fonts at least (index 4 is never used)
        *(_biff(0x041E, struct.pack("<H", index) + _biff_string(code))
          for code, index in codes.items()),
        _biff_xf(0, style=True) * _XF_STYLES,
        *(_biff_xf(codes[code]) for code in cells),
    ])
    boundsheet_size = 4 + 8 + 2 * len(sheet)
    boundsheet = _biff(0x0085, struct.pack("<IBB", len(head) + boundsheet_size + 4, 0, 0)
                       + _biff_string(sheet, "B"))
    records, xf = [], _XF_STYLES
    for number, row in enumerate(rows):
        for column, (value, _) in enumerate(row):
            records.append(_biff(0x0203, struct.pack("<HHHd", number, column, xf, value)))
            xf += 1
    width = max((len(row) for row in rows), default=0)
    worksheet = b"".join([
        _biff_bof(0x0010), _biff(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0)),
        *records, _biff(0x000A, b""),
    ])
    workbook = head + boundsheet + _biff(0x000A, b"") + worksheet
    return make_compound_file({"Workbook": workbook})
