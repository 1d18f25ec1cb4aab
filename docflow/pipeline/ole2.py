"""What an OLE2 compound file is, from the streams of its root storage.

Word, Excel and PowerPoint 97-2003 files, Outlook messages and password-protected OOXML
packages all share this container. Only the root's own entries say which one a file is: an
Excel workbook with a Word document embedded holds a `WordDocument` stream too, one storage
down, and is still a workbook. Names compare case-insensitively, as the format says they do.
Each legacy format also marks a password in its own way, read here from the first bytes of
its main stream, so such a file fails as `encrypted` rather than as a damaged one.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import olefile

__all__ = ["Ole2Kind", "OversizedStream", "ole2_kind", "open_ole", "read_stream"]

_Entry = olefile.olefile.OleDirectoryEntry

_WORD_ENCRYPTED = 0x0100  # FIB base, flags word at offset 10: fEncrypted
_EXCEL_FILEPASS = 0x002F  # BIFF record saying the rest of the workbook is encrypted
_EXCEL_BOF = (0x0809, 0x0409, 0x0209, 0x0009)
_POWERPOINT_ENCRYPTED_TOKEN = 0xF3D1C4DF  # CurrentUserAtom.headerToken of an encrypted file
_HEAD_BYTES = 4096  # every mark read here lies in a main stream's first sector


class _OleFile(olefile.OleFileIO):
    """olefile's reader with its duplicate-stream check on sets: olefile keeps the first sectors
    it has seen in lists, so opening a directory of n streams costs n*n/2 comparisons (seconds
    for a 2 MB file, minutes for 8 MB)."""

    def __init__(self, data: bytes) -> None:
        self._first_sectors: tuple[set[int], set[int]] = (set(), set())  # FAT, MiniFAT
        super().__init__(io.BytesIO(data))

    def _check_duplicate_stream(self, first_sect: int, minifat: bool = False) -> None:
        if not minifat and first_sect in _NOT_STREAMS:
            return
        seen = self._first_sectors[minifat]
        if first_sect in seen:
            self._raise_defect(olefile.DEFECT_INCORRECT, "Stream referenced twice")
        else:
            seen.add(first_sect)


_NOT_STREAMS = (olefile.DIFSECT, olefile.FATSECT, olefile.ENDOFCHAIN, olefile.FREESECT)


def open_ole(data: bytes) -> olefile.OleFileIO:
    """`data` opened as an OLE2 compound file; raises what olefile raises on a damaged one."""
    return _OleFile(data)


class OversizedStream(ValueError):
    """A stream (or the mini stream holding it) that claims more bytes than the whole file."""


def check_stream(ole: olefile.OleFileIO, path: str | list[str], file_size: int) -> None:
    """Refuse a stream whose declared size cannot be true. A damaged sector table can declare
    gigabytes in a file of a few kilobytes, and olefile then follows the chain round and round
    (millions of sector reads) before it fails. A small stream lives in the root's mini stream,
    which is read whole first, so its declared size is checked too."""
    size = ole.get_size(path)
    if size > file_size or (size < ole.minisectorcutoff and ole.root.size > file_size):
        raise OversizedStream(f"stream {path!r} claims more bytes than the file holds")


def read_stream(ole: olefile.OleFileIO, path: str | list[str], file_size: int) -> bytes:
    """The whole stream at `path`, once check_stream has found its size possible."""
    check_stream(ole, path, file_size)
    with ole.openstream(path) as stream:
        return stream.read()


@dataclass(frozen=True)
class Ole2Kind:
    """The format an OLE2 file holds; `encrypted` when it cannot be read without a password."""

    # "doc", "xls", "ppt", "msg", "ooxml" (a password-protected OOXML package), "ppt40"
    format: str
    encrypted: bool = False


def ole2_kind(data: bytes) -> Ole2Kind | None:
    """The kind of OLE2 file `data` is; None when its directory cannot be read or names none."""
    try:
        ole = open_ole(data)
    except Exception:  # olefile raises plain Exceptions and OSErrors for damaged headers
        return None
    try:
        root = {kid.name.lower(): kid for kid in ole.root.kids}
        return _kind(ole, root, len(data))
    except Exception:  # a damaged FAT or directory: the caller falls back to the name
        return None
    finally:
        ole.close()


def _kind(ole: olefile.OleFileIO, root: dict[str, _Entry], size: int) -> Ole2Kind | None:
    if "__properties_version1.0" in root or any(n.startswith("__substg1.0_") for n in root):
        return Ole2Kind("msg")  # a message carries its attachments in storages below the root
    if "encryptedpackage" in root and "encryptioninfo" in root:
        return Ole2Kind("ooxml", encrypted=True)
    if "worddocument" in root:
        flags = _unpack(_head(ole, root["worddocument"], size), "<H", 10)
        return Ole2Kind("doc", encrypted=bool(flags is not None and flags & _WORD_ENCRYPTED))
    for name in ("workbook", "book"):
        if name in root:
            return Ole2Kind("xls", encrypted=_excel_encrypted(_head(ole, root[name], size)))
    if "powerpoint document" in root:
        user = root.get("current user")
        token = None if user is None else _unpack(_head(ole, user, size), "<I", 12)
        encrypted = token == _POWERPOINT_ENCRYPTED_TOKEN or "encryptedsummary" in root
        return Ole2Kind("ppt", encrypted=encrypted)
    if "pp40" in root:
        # PowerPoint 4.0 (1994) keeps its slides in one "PP40" stream whose layout was never
        # published ([MS-PPT] starts at PowerPoint 97; Apache POI refuses these files too).
        # PowerPoint 95 wrote it beside a "PowerPoint Document" stream, read above.
        return Ole2Kind("ppt40")
    return None


def _head(ole: olefile.OleFileIO, entry: _Entry, file_size: int) -> bytes:
    """A stream's first bytes, without reading all of a large stream into memory."""
    if entry.entry_type != olefile.STGTY_STREAM:
        return b""
    if entry.size >= ole.minisectorcutoff and entry.isectStart < len(ole.fat):
        return ole.getsect(entry.isectStart)[: min(entry.size, _HEAD_BYTES)]
    check_stream(ole, [entry.name], file_size)
    with ole.openstream([entry.name]) as stream:  # small: it lives in the mini stream
        return stream.read(_HEAD_BYTES)


def _excel_encrypted(head: bytes) -> bool:
    """A FILEPASS record among the workbook globals' first records (right after BOF)."""
    position = 0
    for index in range(16):
        record = _unpack(head, "<HH", position)
        if record is None:
            return False
        kind, length = record
        if index == 0 and kind not in _EXCEL_BOF:
            return False  # not a BIFF stream we understand: let the reader judge it
        if kind == _EXCEL_FILEPASS:
            return True
        position += 4 + length
    return False


def _unpack(data: bytes, layout: str, offset: int) -> tuple[int, ...] | int | None:
    size = struct.calcsize(layout)
    if offset + size > len(data):
        return None
    values = struct.unpack_from(layout, data, offset)
    return values[0] if len(values) == 1 else values
