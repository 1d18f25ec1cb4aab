"""PDFs that cost far more to read than their size: made by the tests, a few hundred KB each."""

from __future__ import annotations

import zlib


def pdf_with_content(content_bytes: int, op: bytes = b" ") -> bytes:
    """A one-page PDF whose Flate content stream inflates to `content_bytes` of `op` repeated
    (b" ": whitespace, harmless once read; b"0 0 m 1 1 l S\\n": a path object each)."""
    deflate = zlib.compressobj(9)
    chunk = op * ((1 << 20) // len(op))
    parts, left = [], content_bytes
    while left > 0:
        piece = chunk[:left]
        parts.append(deflate.compress(piece))
        left -= len(piece)
    parts.append(deflate.flush())
    stream = b"".join(parts)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream
               + b"\nendstream"]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)
