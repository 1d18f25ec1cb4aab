"""Real documents made at test time: PDFs (plain and password-protected), DOCX, OLE2 containers.

Nothing here reads files from disk, so every test states the content it depends on.
"""

from __future__ import annotations

import hashlib
import io
import struct
import textwrap
from collections.abc import Sequence

import docx

Table = Sequence[Sequence[str]]

_PAGE_WIDTH = 612
_FONT_SIZE = 11
_LEADING = 14
_MARGIN = 72
_WRAP_CHARS = 85  # Helvetica 11pt fits about this many characters between the margins


# --- PDF -----------------------------------------------------------------------------------


def make_pdf(pages: Sequence[str]) -> bytes:
    """A valid PDF with one page per string, each line its own Helvetica text object.

    Long lines are wrapped and tall pages grow, so every character lies inside the page box.
    An empty string makes a page with no text at all (like a scanned page without OCR).
    """
    return _PdfWriter(pages).write()


def make_encrypted_pdf(pages: Sequence[str], user_password: str = "secret") -> bytes:
    """A PDF protected by the standard security handler (RC4, 40-bit, revision 2)."""
    return _PdfWriter(pages, user_password=user_password).write()


class _PdfWriter:
    def __init__(self, pages: Sequence[str], user_password: str | None = None) -> None:
        self.pages = list(pages) or [""]
        self.user_password = user_password
        self.file_id = hashlib.md5(repr(self.pages).encode()).digest()
        self.key = b""

    def write(self) -> bytes:
        objects: dict[int, bytes] = {}
        page_ids = [4 + 2 * i for i in range(len(self.pages))]
        objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
        kids = " ".join(f"{pid} 0 R" for pid in page_ids)
        objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode()
        objects[3] = (
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
        )
        encrypt_id = None
        if self.user_password is not None:
            encrypt_id = page_ids[-1] + 2
            objects[encrypt_id] = self._encrypt_dictionary(self.user_password)
        for page_id, text in zip(page_ids, self.pages, strict=True):
            content, height = _page_content(text)
            objects[page_id] = (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_PAGE_WIDTH} {height}] "
                f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_id + 1} 0 R >>"
            ).encode()
            if self.key:
                content = _rc4(self._object_key(page_id + 1), content)
            objects[page_id + 1] = (
                b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"
            )
        return self._serialise(objects, encrypt_id)

    def _serialise(self, objects: dict[int, bytes], encrypt_id: int | None) -> bytes:
        out = io.BytesIO()
        out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = {}
        for number in sorted(objects):
            offsets[number] = out.tell()
            out.write(b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n")
        size = max(objects) + 1
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        for number in range(1, size):
            out.write(b"%010d 00000 n \n" % offsets[number])
        file_id = self.file_id.hex().encode()
        trailer = b"<< /Size %d /Root 1 0 R /ID [<%s> <%s>]" % (size, file_id, file_id)
        if encrypt_id is not None:
            trailer += b" /Encrypt %d 0 R" % encrypt_id
        out.write(b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
        return out.getvalue()

    def _encrypt_dictionary(self, user_password: str) -> bytes:
        # PDF 1.7 spec, algorithms 3.2-3.4 (revision 2); owner password = user password.
        padded = _pad_password(user_password)
        owner_key = hashlib.md5(padded).digest()[:5]
        owner_entry = _rc4(owner_key, padded)
        permissions = -44
        self.key = hashlib.md5(
            padded + owner_entry + struct.pack("<i", permissions) + self.file_id
        ).digest()[:5]
        user_entry = _rc4(self.key, _PASSWORD_PAD)
        return (
            b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>"
            % (owner_entry.hex().encode(), user_entry.hex().encode(), permissions)
        )

    def _object_key(self, number: int) -> bytes:
        seed = self.key + struct.pack("<I", number)[:3] + b"\x00\x00"
        return hashlib.md5(seed).digest()[: len(self.key) + 5]


_PASSWORD_PAD = bytes.fromhex(
    "28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A"
)


def _pad_password(password: str) -> bytes:
    return (password.encode("latin-1") + _PASSWORD_PAD)[:32]


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def _page_content(text: str) -> tuple[bytes, int]:
    lines: list[str] = []
    for line in text.splitlines():
        lines.extend(textwrap.wrap(line, _WRAP_CHARS) or [""])
    height = max(792, 2 * _MARGIN + _LEADING * len(lines))
    commands = []
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        y = height - _MARGIN - _LEADING * index
        commands.append(
            b"BT /F1 %d Tf %d %d Td (%s) Tj ET" % (_FONT_SIZE, _MARGIN, y, _pdf_string(line))
        )
    return b"\n".join(commands), height


def _pdf_string(line: str) -> bytes:
    escaped = bytearray()
    for byte in line.encode("cp1252", errors="replace"):  # WinAnsiEncoding is cp1252
        if byte in b"\\()":
            escaped += b"\\" + bytes([byte])
        elif byte > 126:
            escaped += b"\\%03o" % byte
        else:
            escaped.append(byte)
    return bytes(escaped)


# --- DOCX ----------------------------------------------------------------------------------


def make_docx(
    paragraphs: Sequence[str | Table],
    header: str | None = None,
    footer: str | None = None,
    table: Table | None = None,
) -> bytes:
    """A Word document: each item of `paragraphs` is a paragraph, or a table given as rows.

    `table`, if given, is added after the paragraphs; header and footer go on every page.
    """
    document = docx.Document()
    for item in paragraphs:
        if isinstance(item, str):
            document.add_paragraph(item)
        else:
            _add_table(document, item)
    if table is not None:
        _add_table(document, table)
    section = document.sections[0]
    if header is not None:
        section.header.paragraphs[0].text = header
    if footer is not None:
        section.footer.paragraphs[0].text = footer
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _add_table(document: docx.document.Document, rows: Table) -> None:
    width = max((len(row) for row in rows), default=1)
    table = document.add_table(rows=len(rows), cols=width)
    for row_cells, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row_cells.cells, values, strict=False):
            cell.text = value


# --- OLE2 (password-protected Office files) -----------------------------------------------


def make_encrypted_docx() -> bytes:
    """What Word writes for a password-protected .docx: an OLE2 file with an EncryptedPackage.

    The streams hold filler rather than real ciphertext: detection and extraction only need the
    container, and the point is that nobody can read it without the password.
    """
    return make_ole2(
        {"EncryptionInfo": b"\x04\x00\x04\x00" * 1024, "EncryptedPackage": b"\x00" * 8192}
    )


def make_ole2(streams: dict[str, bytes]) -> bytes:
    """A minimal compound file (v3, 512-byte sectors) holding `streams` (each padded to 4 KiB)."""
    end_of_chain, fat_sector, free, no_stream = 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF, 0xFFFFFFFF
    sector = 512
    fat = [fat_sector, end_of_chain]  # sector 0: the FAT itself; sector 1: the directory
    data = b""
    entries = [_ole2_entry("Root Entry", 5, end_of_chain, 0, child=1)]
    names = list(streams)
    for index, name in enumerate(names):
        body = streams[name].ljust(4096, b"\x00")  # below 4 KiB a stream would need a mini FAT
        body = body.ljust(-(-len(body) // sector) * sector, b"\x00")
        first = len(fat)
        count = len(body) // sector
        fat.extend(range(first + 1, first + count))
        fat.append(end_of_chain)
        right = index + 2 if index + 1 < len(names) else no_stream
        entries.append(_ole2_entry(name, 2, first, len(streams[name]), right=right))
        data += body
    if len(fat) > sector // 4 or len(entries) > 4:
        raise ValueError("make_ole2 writes one FAT sector and one directory sector only")
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat).ljust(sector, b"\xff")
    directory = b"".join(entries).ljust(sector, b"\x00")
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\x00" * 16, 0x3E, 3, 0xFFFE, 9, 6, b"\x00" * 6,
        0, 1, 1, 0, 4096, end_of_chain, 0, end_of_chain, 0,
    )
    header += struct.pack("<I", 0) + struct.pack("<I", free) * 108  # DIFAT: FAT is sector 0
    return header + fat_bytes + directory + data


def _ole2_entry(
    name: str, kind: int, start: int, size: int, child: int = 0xFFFFFFFF, right: int = 0xFFFFFFFF
) -> bytes:
    encoded = name.encode("utf-16-le") + b"\x00\x00"
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        encoded, len(encoded), kind, 1, 0xFFFFFFFF, right, child, b"\x00" * 16, 0, 0, 0, start,
        size,
    )
