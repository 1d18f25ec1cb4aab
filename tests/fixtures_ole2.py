"""OLE2 compound files for tests, written here (olefile reads them but cannot write new ones).

`make_compound_file({"Workbook": b"...", "MBD0001": {"WordDocument": b"..."}})` makes a
version-3 file (512-byte sectors) whose root holds the stream `Workbook` and the storage
`MBD0001`, which holds a stream of its own. Streams are padded to 4 KiB, so no mini stream is
needed; that changes nothing a reader looks at in the first bytes. Plus the marks each
legacy Office format uses for "this file is password-protected".
"""

from __future__ import annotations

import struct

Tree = dict[str, "bytes | Tree"]

_SECTOR = 512
_END_OF_CHAIN, _FAT_SECTOR, _FREE, _NONE = 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF, 0xFFFFFFFF


def make_compound_file(tree: Tree) -> bytes:
    """A compound file whose root storage holds `tree` (bytes: a stream; dict: a storage)."""
    entries: list[list] = [["Root Entry", 5, None, _NONE, _NONE]]  # name, kind, data, child, right
    streams: list[tuple[int, bytes]] = []

    def add(children: Tree) -> int:
        first = _NONE
        indices = []
        for name, value in children.items():
            index = len(entries)
            indices.append(index)
            if isinstance(value, dict):
                entries.append([name, 1, None, _NONE, _NONE])
                entries[index][3] = add(value)
            else:
                body = value.ljust(4096, b"\x00")  # at least the mini-stream cutoff
                entries.append([name, 2, body, _NONE, _NONE])
                streams.append((index, body))
        for left, right in zip(indices, indices[1:], strict=False):
            entries[left][4] = right  # a chain of right siblings is a valid (if lopsided) tree
        if indices:
            first = indices[0]
        return first

    entries[0][3] = add(tree)
    data_sectors = sum(-(-len(body) // _SECTOR) for _, body in streams)
    dir_sectors = -(-len(entries) // (_SECTOR // 128))
    fat_sectors = 1
    while fat_sectors * (_SECTOR // 4) < fat_sectors + dir_sectors + data_sectors:
        fat_sectors += 1
    if fat_sectors > 109:
        raise ValueError("make_compound_file keeps its FAT in the header's 109 DIFAT slots")
    fat = [_FAT_SECTOR] * fat_sectors
    dir_start = len(fat)
    fat += list(range(dir_start + 1, dir_start + dir_sectors)) + [_END_OF_CHAIN]
    starts: dict[int, tuple[int, int]] = {}
    body_bytes = b""
    for index, body in streams:
        padded = body.ljust(-(-len(body) // _SECTOR) * _SECTOR, b"\x00")
        first = len(fat)
        count = len(padded) // _SECTOR
        fat += list(range(first + 1, first + count)) + [_END_OF_CHAIN]
        starts[index] = (first, len(body))
        body_bytes += padded
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat).ljust(fat_sectors * _SECTOR, b"\xff")
    directory = b"".join(
        _entry(name, kind, *starts.get(index, (_END_OF_CHAIN, 0)), child=child, right=right)
        for index, (name, kind, _, child, right) in enumerate(entries)
    ).ljust(dir_sectors * _SECTOR, b"\x00")
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\x00" * 16, 0x3E, 3, 0xFFFE, 9, 6, b"\x00" * 6,
        0, fat_sectors, dir_start, 0, 4096, _END_OF_CHAIN, 0, _END_OF_CHAIN, 0,
    )
    difat = list(range(fat_sectors)) + [_FREE] * (109 - fat_sectors)
    header += struct.pack("<109I", *difat)
    return header + fat_bytes + directory + body_bytes


def _entry(name: str, kind: int, start: int, size: int, child: int, right: int) -> bytes:
    encoded = name.encode("utf-16-le") + b"\x00\x00"
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        encoded, len(encoded), kind, 1, _NONE, right, child, b"\x00" * 16, 0, 0, 0, start, size,
    )


# --- the first bytes of each legacy format's main stream -----------------------------------


def word_stream(encrypted: bool = False) -> bytes:
    """A WordDocument stream's FIB base: wIdent 0xA5EC, nFib 193 (Word 97), fEncrypted."""
    flags = 0x0100 if encrypted else 0
    return struct.pack("<HHHHHH", 0xA5EC, 193, 0, 0x0409, 0, flags) + b"\x00" * 4084


def excel_stream(encrypted: bool = False) -> bytes:
    """A BIFF8 Workbook stream: BOF, then FILEPASS (RC4) when encrypted, then a record or two."""
    bof = struct.pack("<HH", 0x0809, 16) + struct.pack("<HHHHII", 0x0600, 5, 0, 0, 0, 0)
    filepass = struct.pack("<HH", 0x002F, 54) + b"\x01\x00" + b"\x00" * 52
    interface = struct.pack("<HHH", 0x00E1, 2, 0x04B0)  # InterfaceHdr, code page 1200
    return bof + (filepass if encrypted else b"") + interface


def powerpoint_current_user(encrypted: bool = False) -> bytes:
    """A Current User stream: a CurrentUserAtom whose headerToken marks encryption."""
    token = 0xF3D1C4DF if encrypted else 0xE391C05F
    return struct.pack("<HHIII", 0, 0x0FF6, 20, 20, token) + b"\x00" * 16


def make_wide_compound_file(count: int, first: str = "WordDocument") -> bytes:
    """A compound file whose root lists `count` streams (`first`, then s000001, ...) in a
    balanced tree, each claiming a sector of its own; the sectors are never written, so the
    file is all directory: what a reader pays just to open it."""
    names = [first] + [f"s{number:06d}" for number in range(1, count)]
    links: dict[int, tuple[int, int]] = {}  # directory index -> (left, right)

    def balance(low: int, high: int) -> int:
        if low >= high:
            return _NONE
        middle = (low + high) // 2
        links[middle + 1] = (balance(low, middle), balance(middle + 1, high))
        return middle + 1

    top = balance(0, count)
    directory = _wide_entry("Root Entry", 5, _END_OF_CHAIN, 0, _NONE, _NONE, top) + b"".join(
        _wide_entry(names[index - 1], 2, 1000 + index, 4096, *links[index], _NONE)
        for index in range(1, count + 1)
    )
    directory = directory.ljust(-(-len(directory) // _SECTOR) * _SECTOR, b"\x00")
    dir_sectors = len(directory) // _SECTOR
    fat_sectors = -(-(dir_sectors + 1) // (_SECTOR // 4 - 1))
    if fat_sectors > 109:
        raise ValueError("make_wide_compound_file keeps its FAT in the header's DIFAT slots")
    fat = [_FAT_SECTOR] * fat_sectors
    fat += list(range(fat_sectors + 1, fat_sectors + dir_sectors)) + [_END_OF_CHAIN]
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat).ljust(fat_sectors * _SECTOR, b"\xff")
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\x00" * 16, 0x3E, 3, 0xFFFE, 9, 6, b"\x00" * 6,
        0, fat_sectors, fat_sectors, 0, 4096, _END_OF_CHAIN, 0, _END_OF_CHAIN, 0,
    )
    header += struct.pack("<109I", *range(fat_sectors), *[_FREE] * (109 - fat_sectors))
    return header + fat_bytes + directory


def _wide_entry(
    name: str, kind: int, start: int, size: int, left: int, right: int, child: int
) -> bytes:
    encoded = name.encode("utf-16-le") + b"\x00\x00"
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        encoded, len(encoded), kind, 1, left, right, child, b"\x00" * 16, 0, 0, 0, start, size,
    )
