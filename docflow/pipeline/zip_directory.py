"""A zip's central directory read directly: member names, flags and declared sizes."""

from __future__ import annotations

import struct
from typing import NamedTuple


class ZipEntry(NamedTuple):
    """One central-directory record: what a package declares about a member."""

    filename: str
    flag_bits: int
    compress_size: int
    file_size: int


def central_directory(data: bytes) -> list[ZipEntry] | None:
    """The members a zip declares, read straight from its central directory.

    Several times faster than zipfile.ZipFile, which builds a full ZipInfo per member: that
    matters when a small PPTX is sniffed, checked and handed to kreuzberg. None when the
    directory cannot be found or is inconsistent; zipfile then has the last word.
    """
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return None
    count, size, offset = struct.unpack_from("<HII", data, end + 10)
    if 0xFFFF in (count,) or 0xFFFFFFFF in (size, offset):  # ZIP64: its own end record
        locator = end - 20
        if locator < 0 or data[locator : locator + 4] != b"PK\x06\x07":
            return None
        record = struct.unpack_from("<Q", data, locator + 8)[0]
        if data[record : record + 4] != b"PK\x06\x06":
            return None
        count, size, offset = struct.unpack_from("<QQQ", data, record + 32)
    entries: list[ZipEntry] = []
    position = offset
    for _ in range(count):
        if data[position : position + 4] != b"PK\x01\x02":
            return None  # a prefixed (self-extracting) or damaged archive
        flag, csize, usize, name_len, extra_len, comment_len = struct.unpack_from(
            "<H10xIIHHH", data, position + 8
        )
        name_start = position + 46
        raw_name = data[name_start : name_start + name_len]
        if csize == 0xFFFFFFFF or usize == 0xFFFFFFFF:
            usize, csize = _zip64_sizes(data[name_start + name_len :][:extra_len], usize, csize)
        name = raw_name.decode("utf-8" if flag & 0x800 else "cp437", "replace")
        entries.append(ZipEntry(name, flag, csize, usize))
        position = name_start + name_len + extra_len + comment_len
    return entries


def _zip64_sizes(extra: bytes, usize: int, csize: int) -> tuple[int, int]:
    position = 0
    while position + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, position)
        if kind == 1:
            values = list(struct.unpack_from(f"<{length // 8}Q", extra, position + 4))
            if usize == 0xFFFFFFFF and values:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
            break
        position += 4 + length
    return usize, csize
