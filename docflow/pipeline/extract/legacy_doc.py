"""Word 97-2003 and Word 6/95 (.doc) text from the piece table; kreuzberg as second reader.

This reader comes first: kreuzberg fails on Word 6/95 and on some fast-saved files, and drops
headers and footers where it does read a file; it reads what ours fails on or finds empty.
The text of a Word file is a list of pieces: the CLX in the table stream (Word 97+) or in the
WordDocument stream itself (Word 6/95) maps character positions to byte ranges that hold
either UTF-16 or 8-bit text. Every story is read in the order Word keeps them: body,
footnotes, each distinct header and footer once, comments, endnotes, text boxes. Field
instructions are dropped and their results kept; cell marks become tabs, row ends line breaks.
"""

from __future__ import annotations

import itertools
import re
import struct

import olefile

from ..errors import CorruptDocument, DocumentError, EncryptedDocument
from ..ole2 import open_ole, read_stream
from ..types import DetectedType, ExtractedText, Limits
from .office import run_kreuzberg
from .registry import register

_MIME = "application/msword"
_LABEL = "Word 97-2003 (.doc)"
_WORD_MAGIC = 0xA5EC
_WORD6_MAGIC = 0xA5DC  # Word 6/95 writes this ident (a few Word 95 files write 0xA5EC)
_F_COMPLEX, _F_ENCRYPTED, _F_TABLE1 = 0x0004, 0x0100, 0x0200
_WORD97_FIB = 101  # nFib of Word 97 and later is 0x00C1 and up; Word 6/95 write 101-105
_CLX_97 = 0x01A2  # fcClx, lcbClx in a Word 97+ FIB
_CLX_6 = 0x0160  # fcClx, lcbClx in a Word 6/95 FIB
# ccpText, ccpFtn, ccpHdd, ccpMcr, ccpAtn, ccpEdn, ccpTxbx, ccpHdrTxbx: each story's length
_CCP_6, _CCP_97 = 0x34, 0x4C
_PLCF_HDD_6, _PLCF_HDD_97 = 0xB0, 0xF2  # fcPlcfhdd, lcbPlcfhdd: where headers start
_MAX_PIECES = 1_000_000
# Language id of the document -> code page of its 8-bit text (Word 6/95 and 8-bit pieces).
_CODE_PAGES = {
    0x0405: "cp1250", 0x040E: "cp1250", 0x0415: "cp1250", 0x041B: "cp1250", 0x0424: "cp1250",
    0x041A: "cp1250", 0x0418: "cp1250", 0x0419: "cp1251", 0x0422: "cp1251", 0x0402: "cp1251",
    0x0423: "cp1251", 0x0408: "cp1253", 0x041F: "cp1254", 0x040D: "cp1255", 0x0401: "cp1256",
    0x0425: "cp1257", 0x0426: "cp1257", 0x0427: "cp1257", 0x041E: "cp874", 0x0411: "cp932",
    0x0804: "gbk", 0x0412: "cp949", 0x0404: "big5",
}
_FIELD_BEGIN, _FIELD_SEPARATOR, _FIELD_END = "\x13", "\x14", "\x15"
_SPECIALS = re.compile("[\x13\x14\x15]")
_MARKS = str.maketrans({
    "\r": "\n", "\x0b": "\n", "\x0c": "\n", "\x0e": "\n", "\x1e": "-", "\x1f": None,
    "\x01": None, "\x02": None, "\x03": None, "\x04": None, "\x05": None, "\x08": None,
})


@register("doc")
def extract_doc(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    skipped: list[str] = []
    try:
        text = doc_text(data, skipped)
    except EncryptedDocument:
        raise
    except DocumentError as failed:  # not a piece table ours can follow: kreuzberg tries
        try:
            return ExtractedText(text=run_kreuzberg(data, "doc", _MIME, _LABEL, limits).content)
        except EncryptedDocument:
            raise
        except DocumentError:
            raise failed from None
    if text.strip():
        return ExtractedText(text=text, skipped=skipped)
    try:
        return ExtractedText(text=run_kreuzberg(data, "doc", _MIME, _LABEL, limits).content)
    except DocumentError:
        return ExtractedText(text=text)


def doc_text(data: bytes, skipped: list[str] | None = None) -> str:
    """The text of the Word 6/95/97-2003 file `data`, every story, fields by their results.
    Text that lies past the end of a stream cut short is counted in `skipped`."""
    try:
        ole = open_ole(data)
    except (OSError, ValueError, struct.error) as exc:
        raise CorruptDocument(_damaged()) from exc
    with ole:
        if not ole.exists("WordDocument"):
            raise CorruptDocument(_damaged())
        word = _stream(ole, "WordDocument", len(data))
        if len(word) < 0x200:
            raise CorruptDocument(_damaged())
        ident, n_fib, _, lid, _, flags = struct.unpack_from("<HHHHHH", word, 0)
        if ident not in (_WORD_MAGIC, _WORD6_MAGIC):
            raise CorruptDocument(_damaged())
        if flags & _F_ENCRYPTED:
            raise EncryptedDocument(
                f"The {_LABEL} file is password-protected; remove the password and upload it "
                "again."
            )
        code_page = _CODE_PAGES.get(lid, "cp1252")
        if ident == _WORD6_MAGIC or n_fib <= 105:
            raw, missing = _word6_text(word, flags, code_page)
            table, counts, headers = word, _CCP_6, _PLCF_HDD_6
        else:
            table_name = "1Table" if flags & _F_TABLE1 else "0Table"
            if not ole.exists(table_name):
                raise CorruptDocument(_damaged())
            table = _stream(ole, table_name, len(data))
            fc, lcb = struct.unpack_from("<II", word, _CLX_97)
            raw, missing = _piece_text(word, _pieces(table, fc, lcb), unicode_pieces=True,
                                       code_page="cp1252")
            counts, headers = _CCP_97, _PLCF_HDD_97
    if missing and skipped is not None:
        skipped.append(f"{missing:,} characters of its text lie past the end of the file, which "
                       "is cut short; they are missing.")
    story_lengths = struct.unpack_from("<8I", word, counts)
    fc, lcb = struct.unpack_from("<II", word, headers)
    return _stories(raw, story_lengths, _header_bounds(table, fc, lcb))


def _stories(raw: str, lengths: tuple[int, ...], header_bounds: list[int]) -> str:
    """Body, footnotes, each distinct header and footer once, comments, endnotes, text boxes."""
    if not 0 < sum(lengths) <= len(raw) + 1:
        return _clean(raw)  # the story lengths do not fit the text: read it as one story
    texts: list[str] = []
    start = 0
    for number, length in enumerate(lengths):
        story = raw[start : start + length]
        if number == 2 and header_bounds:  # headers and footers: first page, odd, even...
            cuts = _ascending([b for b in header_bounds if 0 <= b <= length]) or [0, length]
            parts = (_clean(story[a:b]).strip("\n") for a, b in itertools.pairwise(cuts))
            texts.extend(dict.fromkeys(part for part in parts if part.strip()))
        else:
            texts.append(_clean(story).strip("\n"))
        start += length
    return "\n".join(text for text in texts if text.strip())


def _ascending(bounds: list[int]) -> list[int]:
    """The bounds that never step back: Word writes them in order, and slices between bounds
    that jump back and forth would copy the header text over and over (quadratic)."""
    kept: list[int] = []
    for bound in bounds:
        if not kept or bound >= kept[-1]:
            kept.append(bound)
    return kept


def _header_bounds(table: bytes, fc: int, lcb: int) -> list[int]:
    """Where each header and footer story starts within the header text (PlcfHdd)."""
    count = lcb // 4
    if not lcb or count > _MAX_PIECES or fc + 4 * count > len(table):
        return []
    return list(struct.unpack_from(f"<{count}I", table, fc))


def _stream(ole: olefile.OleFileIO, name: str, file_size: int) -> bytes:
    try:
        return read_stream(ole, name, file_size)
    except (OSError, ValueError, struct.error) as exc:
        raise CorruptDocument(_damaged()) from exc


def _word6_text(word: bytes, flags: int, code_page: str) -> tuple[str, int]:
    """Word 6/95: 8-bit text; a fast-saved (complex) file has a piece table of its own."""
    total = sum(struct.unpack_from("<8I", word, _CCP_6))
    fc, lcb = struct.unpack_from("<II", word, _CLX_6)
    if flags & _F_COMPLEX and lcb:
        return _piece_text(word, _pieces(word, fc, lcb), unicode_pieces=False,
                           code_page=code_page)
    fc_min, fc_mac = struct.unpack_from("<II", word, 0x18)
    end = min(fc_mac, fc_min + total + 1) if total else fc_mac
    if not 0 < fc_min <= end <= len(word):
        raise CorruptDocument(_damaged())
    return word[fc_min:end].decode(code_page, "replace"), 0


def _pieces(table: bytes, fc: int, lcb: int) -> list[tuple[int, int, int]]:
    """(first character position, after the last, file offset with its compression bit)."""
    clx = table[fc : fc + lcb]
    if not lcb or len(clx) != lcb:
        raise CorruptDocument(_damaged())
    pos = 0
    while pos < len(clx) and clx[pos] == 0x01:  # Prc: property modifiers, skipped
        if pos + 3 > len(clx):
            raise CorruptDocument(_damaged())
        pos += 3 + struct.unpack_from("<H", clx, pos + 1)[0]
    if pos + 5 > len(clx) or clx[pos] != 0x02:
        raise CorruptDocument(_damaged())
    size = struct.unpack_from("<I", clx, pos + 1)[0]
    plc = clx[pos + 5 : pos + 5 + size]
    count = (len(plc) - 4) // 12
    if count <= 0 or count > _MAX_PIECES or len(plc) < 4 + count * 12:
        raise CorruptDocument(_damaged())
    positions = struct.unpack_from(f"<{count + 1}I", plc, 0)
    pieces = []
    for index in range(count):
        descriptor = 4 * (count + 1) + 8 * index
        offset = struct.unpack_from("<I", plc, descriptor + 2)[0]
        pieces.append((positions[index], positions[index + 1], offset))
    return pieces


def _piece_text(
    word: bytes, pieces: list[tuple[int, int, int]], unicode_pieces: bool, code_page: str
) -> tuple[str, int]:
    """The pieces' text, and how many of their characters lie past the end of `word`."""
    parts = []
    missing = 0
    # Every character takes at least a byte of the stream: pieces that add up to more are
    # overlapping on purpose, to blow the text up; reading stops there.
    budget = len(word)
    for start, end, offset in pieces:
        length = end - start
        if length <= 0:
            continue
        budget -= length
        if budget < 0:
            break
        if unicode_pieces and not offset & 0x40000000:  # UTF-16 text at `offset`
            chunk = word[offset : offset + 2 * length]
            parts.append(chunk.decode("utf-16-le", "replace"))
            missing += length - len(chunk) // 2
        elif unicode_pieces:  # "compressed": 8-bit windows-1252 text at half the offset
            at = (offset & 0x3FFFFFFF) // 2
            chunk = word[at : at + length]
            parts.append(chunk.decode("cp1252", "replace"))
            missing += length - len(chunk)
        else:
            chunk = word[offset : offset + length]
            parts.append(chunk.decode(code_page, "replace"))
            missing += length - len(chunk)
    return "".join(parts), missing


def _clean(raw: str) -> str:
    """Fields by their results, cell marks as tabs and row ends as line breaks."""
    out: list[str] = []
    fields: list[bool] = []  # per open field: True while in its instruction
    instructions = 0  # how many of `fields` are True: asking any(fields) per mark is quadratic
    pos = 0
    for match in _SPECIALS.finditer(raw):
        if not instructions:
            out.append(raw[pos : match.start()])
        pos = match.end()
        mark = match.group()
        if mark == _FIELD_BEGIN:
            fields.append(True)
            instructions += 1
        elif mark == _FIELD_SEPARATOR and fields:
            instructions -= fields[-1]
            fields[-1] = False
        elif mark == _FIELD_END and fields:
            instructions -= fields.pop()
    if not instructions:
        out.append(raw[pos:])
    text = "".join(out).replace("\x07\r\x07", "\n").replace("\x07\x07", "\n")
    return text.replace("\x07", "\t").translate(_MARKS)


def _damaged() -> str:
    return (
        f"The {_LABEL} file could not be read; it may be damaged or incomplete. "
        "Try saving it again from Word."
    )

