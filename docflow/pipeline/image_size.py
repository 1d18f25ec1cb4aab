"""An image's pixel dimensions read from its header, before anything decodes it.

A 50,000 x 50,000 PNG is a few kilobytes on disk and 7.5 GB once decoded; the header says so
in its first bytes, so the limit is enforced there.
"""

from __future__ import annotations

import struct

_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOFn; not DHT, JPG, DAC
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xDA)})  # markers without a length field
_TIFF_WIDTH, _TIFF_HEIGHT = 256, 257


def image_dimensions(data: bytes, fmt: str, max_frames: int) -> list[tuple[int, int]]:
    """(width, height) of each frame found (one for most formats, one per TIFF page).

    Empty when the header is too damaged to say; the image reader then reports it.
    """
    try:
        if fmt == "png":
            return [struct.unpack_from(">II", data, 16)] if data[12:16] == b"IHDR" else []
        if fmt == "gif":
            return [struct.unpack_from("<HH", data, 6)]
        if fmt == "bmp":
            return [_bmp(data)]
        if fmt == "jpeg":
            return _jpeg(data)
        if fmt == "webp":
            return _webp(data)
        if fmt == "tiff":
            return _tiff(data, max_frames)
    except struct.error:
        return []  # cut short inside the header
    return []


def _bmp(data: bytes) -> tuple[int, int]:
    if struct.unpack_from("<I", data, 14)[0] == 12:  # OS/2 BITMAPCOREHEADER
        return struct.unpack_from("<HH", data, 18)
    width, height = struct.unpack_from("<ii", data, 18)
    return abs(width), abs(height)  # a negative height means top-down rows


def _jpeg(data: bytes) -> list[tuple[int, int]]:
    position = 2
    while position + 4 <= len(data):  # each step moves forward, so this ends
        if data[position] != 0xFF:
            return []
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        length = struct.unpack_from(">H", data, position + 2)[0]
        if marker in _JPEG_FRAMES:
            height, width = struct.unpack_from(">HH", data, position + 5)
            return [(width, height)]
        if marker == 0xDA or length < 2:  # image data begins, or a broken segment
            return []
        position += 2 + length
    return []


def _webp(data: bytes) -> list[tuple[int, int]]:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return [(width, height)]
    if chunk == b"VP8L":
        bits = struct.unpack_from("<I", data, 21)[0]
        return [((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)]
    if chunk == b"VP8 ":
        width, height = struct.unpack_from("<HH", data, 26)
        return [(width & 0x3FFF, height & 0x3FFF)]
    return []


def _tiff(data: bytes, max_frames: int) -> list[tuple[int, int]]:
    order = "<" if data[:2] == b"II" else ">"
    offset = struct.unpack_from(order + "I", data, 4)[0]
    frames: list[tuple[int, int]] = []
    seen: set[int] = set()
    while offset and offset not in seen and len(frames) <= max_frames:  # a loop ends here
        seen.add(offset)
        count = struct.unpack_from(order + "H", data, offset)[0]
        size = {}
        for index in range(count):
            entry = offset + 2 + 12 * index
            tag, kind = struct.unpack_from(order + "HH", data, entry)
            if tag in (_TIFF_WIDTH, _TIFF_HEIGHT):
                fmt = order + ("H" if kind == 3 else "I")
                size[tag] = struct.unpack_from(fmt, data, entry + 8)[0]
        frames.append((size.get(_TIFF_WIDTH, 0), size.get(_TIFF_HEIGHT, 0)))
        offset = struct.unpack_from(order + "I", data, offset + 2 + 12 * count)[0]
    return frames
