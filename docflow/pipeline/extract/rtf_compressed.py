"""Outlook's compressed RTF (MS-OXRTFCP, "LZFu"): the body of older .msg files."""

from __future__ import annotations

import struct

from ..errors import CorruptDocument

# The dictionary starts out holding this text, so common RTF words compress from byte one.
_PRELOAD = (
    b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern "
    b"\\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0"
    b"\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx"
)
_COMPRESSED, _UNCOMPRESSED = 0x75465A4C, 0x414C454D  # "LZFu", "MELA"
_HEADER = 16


def decompress_rtf(data: bytes, max_bytes: int) -> bytes:
    """The RTF inside `data`, never more than `max_bytes` (or the size its header declares)."""
    if len(data) < _HEADER:
        raise CorruptDocument("The message's RTF body is damaged.")
    _, raw_size, kind, _ = struct.unpack_from("<IIII", data)
    if kind == _UNCOMPRESSED:
        return data[_HEADER : _HEADER + min(raw_size, max_bytes)]
    if kind != _COMPRESSED:
        raise CorruptDocument("The message's RTF body uses an unknown compression.")
    limit = min(raw_size, max_bytes)
    window = bytearray(4096)
    window[: len(_PRELOAD)] = _PRELOAD
    write = len(_PRELOAD)
    out = bytearray()
    position = _HEADER
    while position < len(data) and len(out) < limit:
        control = data[position]
        position += 1
        for bit in range(8):
            if position >= len(data) or len(out) >= limit:
                break
            if not control & (1 << bit):  # a literal byte
                byte = data[position]
                position += 1
                out.append(byte)
                window[write] = byte
                write = (write + 1) % 4096
                continue
            if position + 1 >= len(data):
                return bytes(out)
            reference = (data[position] << 8) | data[position + 1]
            position += 2
            offset, length = reference >> 4, (reference & 0xF) + 2
            if offset == write:  # the end marker
                return bytes(out)
            for step in range(length):
                byte = window[(offset + step) % 4096]
                out.append(byte)
                window[write] = byte
                write = (write + 1) % 4096
    return bytes(out[:limit])
