"""A PDF's compressed streams, measured before PDFium reads them: one that inflates past
`Limits.max_unpacked_bytes` is a decompression bomb (a 4 MB file whose page content inflates
to 4 GiB), refused in seconds and in bounded memory instead of after gigabytes.

PDFium exposes no decoded stream size before it loads a page (loading is what inflates), so
the raw file is scanned: each Flate stream of at least `MEASURE_FROM` compressed bytes is
inflated in chunks that are counted and dropped. Small streams cannot hold a bomb worth the
check; encrypted or damaged streams are left to PDFium.
"""

from __future__ import annotations

import re
import zlib

from ..errors import DecompressionBomb

MEASURE_FROM = 64 * 1024  # compressed bytes; below it a stream inflates to ~64 MiB at most
_CHUNK = 4 * 1024 * 1024
_STREAM = re.compile(rb"stream\r?\n")
_DICT_LOOKBACK = 2048  # the stream's dictionary sits just before the keyword


def refuse_pdf_bombs(data: bytes | memoryview, max_inflated: int) -> None:
    """Raise DecompressionBomb when a Flate stream of the PDF inflates past `max_inflated`."""
    raw = bytes(data) if isinstance(data, memoryview) else data
    position = 0
    while (found := _STREAM.search(raw, position)) is not None:
        start = found.end()
        end = raw.find(b"endstream", start)
        if end < 0:
            return
        position = end + len(b"endstream")
        head = raw[max(0, found.start() - _DICT_LOOKBACK):found.start()]
        if end - start < MEASURE_FROM or b"/FlateDecode" not in head[head.rfind(b"<<"):]:
            continue
        inflated = _inflated_size(memoryview(raw)[start:end], max_inflated)
        if inflated > max_inflated:
            raise DecompressionBomb(
                f"A stream in the PDF inflates from {end - start:,} bytes to more than "
                f"{max_inflated:,} (the max_unpacked_bytes limit); the file looks like a "
                f"decompression bomb and was not read.")


def _inflated_size(stream: memoryview, limit: int) -> int:
    """Bytes the stream inflates to, counted up to just past `limit` (0 when not zlib)."""
    inflater = zlib.decompressobj()
    total = 0
    try:
        for offset in range(0, len(stream), _CHUNK):
            pending = stream[offset:offset + _CHUNK]
            while pending:
                total += len(inflater.decompress(pending, _CHUNK))
                if total > limit:
                    return total
                pending = inflater.unconsumed_tail
                if inflater.eof:
                    return total
    except zlib.error:  # damaged or encrypted: PDFium decides what it makes of it
        return 0
    return total
