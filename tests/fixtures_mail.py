"""E-mail (EML) and Outlook (MSG) files made at test time, MSG in a real OLE2 compound file."""

from __future__ import annotations

import email.message
import struct
from collections.abc import Sequence

# --- E-mail and Outlook messages --------------------------------------------------------------


def make_eml(
    subject: str,
    body: str,
    html: str | None = None,
    attachments: Sequence[tuple[str, bytes]] = (),
    sender: str = "Ann Example <ann@example.com>",
    to: str = "Bob Example <bob@example.com>",
) -> bytes:
    """An RFC 822 message: a plain body (and an HTML alternative), then attachments."""
    message = email.message.EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = "Tue, 12 Mar 2024 09:30:00 +0100"
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for name, data in attachments:
        message.add_attachment(
            data, maintype="application", subtype="octet-stream", filename=name
        )
    return message.as_bytes()


# MAPI property ids and types used by make_msg.
_PT_STRING, _PT_BINARY, _PT_LONG, _PT_BOOLEAN = 0x001F, 0x0102, 0x0003, 0x000B


def make_msg(
    subject: str,
    body: str = "",
    sender: tuple[str, str] = ("Ann Example", "ann@example.com"),
    recipients: Sequence[tuple[str, str, int]] = (("Bob Example", "bob@example.com", 1),),
    attachments: Sequence[tuple[str, bytes]] = (),
    html: bytes | None = None,
    rtf_compressed: bytes | None = None,
    message_class: str = "IPM.Note",
    transport_headers: str = "",
    inline: Sequence[tuple[str, bytes, str, bool]] = (),
) -> bytes:
    """An Outlook .msg: the MAPI property streams Outlook writes, in a real compound file.

    `recipients` are (name, address, kind) with kind 1 = To, 2 = Cc, 3 = Bcc. `inline` are
    pictures the body shows, after the attachments: (name, data, content id, hidden).
    """
    root: dict[str, object] = {}
    strings = {0x0037: subject, 0x0C1A: sender[0], 0x5D01: sender[1], 0x001A: message_class}
    if body:
        strings[0x1000] = body
    if transport_headers:
        strings[0x007D] = transport_headers
    for prop, value in strings.items():
        root[_substg(prop, _PT_STRING)] = value.encode("utf-16-le")
    if html is not None:
        root[_substg(0x1013, _PT_BINARY)] = html
    if rtf_compressed is not None:
        root[_substg(0x1009, _PT_BINARY)] = rtf_compressed
    root["__properties_version1.0"] = _properties(32, {0x3FDE: (_PT_LONG, 65001)})
    for index, (name, address, kind) in enumerate(recipients):
        root[f"__recip_version1.0_#{index:08X}"] = {
            _substg(0x3001, _PT_STRING): name.encode("utf-16-le"),
            _substg(0x39FE, _PT_STRING): address.encode("utf-16-le"),
            "__properties_version1.0": _properties(8, {0x0C15: (_PT_LONG, kind)}),
        }
    for index, (name, data) in enumerate(attachments):
        root[f"__attach_version1.0_#{index:08X}"] = {
            _substg(0x3707, _PT_STRING): name.encode("utf-16-le"),
            _substg(0x3701, _PT_BINARY): data,
            "__properties_version1.0": _properties(8, {0x3705: (_PT_LONG, 1)}),
        }
    for index, (name, data, content_id, hidden) in enumerate(inline, start=len(attachments)):
        root[f"__attach_version1.0_#{index:08X}"] = {
            _substg(0x3707, _PT_STRING): name.encode("utf-16-le"),
            _substg(0x3701, _PT_BINARY): data,
            _substg(0x3712, _PT_STRING): content_id.encode("utf-16-le"),
            "__properties_version1.0": _properties(
                8, {0x3705: (_PT_LONG, 1), 0x7FFE: (_PT_BOOLEAN, int(hidden))}),
        }
    return make_compound_file(root)


def _substg(prop: int, kind: int) -> str:
    return f"__substg1.0_{prop:04X}{kind:04X}"


def _properties(header: int, fixed: dict[int, tuple[int, int]]) -> bytes:
    entries = b"".join(
        struct.pack("<HHIQ", kind, prop, 0x6, value) for prop, (kind, value) in fixed.items()
    )
    return b"\x00" * header + entries


def make_compound_file(tree: dict[str, object]) -> bytes:
    """An OLE2 compound file (v3) holding `tree`: name -> bytes (a stream) or dict (a storage).

    Streams under 4 KiB go to the mini stream, as the format requires; storages list their
    children as a balanced binary tree ordered the way the format sorts names.
    """
    return _CompoundFile(tree).write()


class _CompoundFile:
    SECTOR, MINI, CUTOFF = 512, 64, 4096
    FREE, END, FAT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD

    def __init__(self, tree: dict[str, object]) -> None:
        # entries: [name, kind (1 storage, 2 stream, 5 root), data, child ids]
        self.entries: list[list] = [["Root Entry", 5, b"", []]]
        self._siblings: dict[int, tuple[int, int]] = {}  # entry -> (left, right)
        self._add(0, tree)

    def _add(self, parent: int, tree: dict[str, object]) -> None:
        for name, value in tree.items():
            index = len(self.entries)
            self.entries[parent][3].append(index)
            if isinstance(value, dict):
                self.entries.append([name, 1, b"", []])
                self._add(index, value)
            else:
                self.entries.append([name, 2, bytes(value), []])

    def write(self) -> bytes:
        mini = bytearray()
        big: list[tuple[int, bytes]] = []
        starts: dict[int, tuple[int, int]] = {}  # entry -> (start sector, size)
        minifat: list[int] = []
        for index, (_, kind, data, _) in enumerate(self.entries):
            if kind != 2:
                continue
            if len(data) < self.CUTOFF:
                first = len(mini) // self.MINI
                count = max(1, -(-len(data) // self.MINI))
                minifat += [*range(first + 1, first + count), self.END]
                mini += data.ljust(count * self.MINI, b"\x00")
                starts[index] = (first if data else self.END, len(data))
            else:
                big.append((index, data))
        directory_sectors = -(-len(self.entries) * 128 // self.SECTOR)
        minifat_sectors = -(-len(minifat) * 4 // self.SECTOR) if minifat else 0
        mini_sectors = -(-len(mini) // self.SECTOR)
        big_sectors = [-(-len(data) // self.SECTOR) for _, data in big]
        other = directory_sectors + minifat_sectors + mini_sectors + sum(big_sectors)
        fat_sectors = 1
        while fat_sectors * (self.SECTOR // 4) < fat_sectors + other:
            fat_sectors += 1
        if fat_sectors > 109:
            raise ValueError("make_compound_file keeps the FAT in the header's 109 slots")
        fat: list[int] = [self.FAT] * fat_sectors
        body = bytearray()

        def chain(data: bytes, sectors: int) -> int:
            first = len(fat)
            fat.extend([*range(first + 1, first + sectors), self.END])
            body.extend(bytes(data).ljust(sectors * self.SECTOR, b"\x00"))
            return first

        directory_start = len(fat)
        fat.extend([*range(directory_start + 1, directory_start + directory_sectors), self.END])
        body.extend(b"\x00" * (directory_sectors * self.SECTOR))  # filled in below
        minifat_start = (
            chain(struct.pack(f"<{len(minifat)}I", *minifat), minifat_sectors)
            if minifat
            else self.END
        )
        root_start = chain(bytes(mini), mini_sectors) if mini else self.END
        for (index, data), sectors in zip(big, big_sectors, strict=True):
            starts[index] = (chain(data, sectors), len(data))
        starts[0] = (root_start, len(mini))
        directory = b"".join(
            self._entry(index, *starts.get(index, (self.END, 0)))
            for index in range(len(self.entries))
        ).ljust(directory_sectors * self.SECTOR, b"\x00")
        body[: len(directory)] = directory
        fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
        fat_bytes = fat_bytes.ljust(fat_sectors * self.SECTOR, b"\xff")
        header = struct.pack(
            "<8s16sHHHHH6sIIIIIIIII",
            _OLE2, b"\x00" * 16, 0x3E, 3, 0xFFFE, 9, 6, b"\x00" * 6, 0, fat_sectors,
            directory_start, 0, self.CUTOFF, minifat_start, minifat_sectors, self.END, 0,
        )
        difat = list(range(fat_sectors)) + [self.FREE] * (109 - fat_sectors)
        header += struct.pack("<109I", *difat)
        return header + fat_bytes + bytes(body)

    def _entry(self, index: int, start: int, size: int) -> bytes:
        name, kind, _, children = self.entries[index]
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        child = self._tree(self._sorted(children)) if children else self.FREE
        left, right = self._siblings.get(index, (self.FREE, self.FREE))
        return struct.pack(
            "<64sHBBIII16sIQQIQ",
            encoded, len(encoded), kind, 1, left, right, child, b"\x00" * 16, 0, 0, 0, start,
            size,
        )

    def _sorted(self, children: list[int]) -> list[int]:
        return sorted(children, key=lambda i: (len(self.entries[i][0]), self.entries[i][0].upper()))

    def _tree(self, ordered: list[int]) -> int:
        """Link `ordered` into a balanced tree through left/right siblings; return its root."""
        if not ordered:
            return self.FREE
        middle = len(ordered) // 2
        self._siblings[ordered[middle]] = (
            self._tree(ordered[:middle]),
            self._tree(ordered[middle + 1 :]),
        )
        return ordered[middle]


_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
