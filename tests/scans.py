"""Scans made at test time: text drawn into images, and PDFs whose pages are such images.

The font is the TrueType face Pillow ships (`ImageFont.load_default(size=...)`), so the text is
crisp at any size and OCR reads it reliably; nothing is read from disk.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence

import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFont

from tests.fixtures import make_pdf

# Six lines of ordinary contract prose, for scans whose text size or OCR is under test.
CONTRACT_LINES = [
    "This Agreement is made on 12 March 2024",
    "between Acme Holdings Ltd and Beta Systems",
    "Confidential Information means any data",
    "disclosed by either party to the other",
    "Total consideration: $12,500.00",
    "Signed for and on behalf of the parties",
]

def text_image(
    lines: Sequence[str], size: int = 32, mode: str = "L", margin: int | None = None
) -> Image.Image:
    """Black text on white, one line per item, `size` pixels per em."""
    font = ImageFont.load_default(size=size)
    margin = size if margin is None else margin
    width = int(max(font.getlength(line) for line in lines)) + 2 * margin
    leading = round(size * 1.5)
    height = leading * len(lines) + 2 * margin
    image = Image.new(mode, (width, height), "white")
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((margin, margin + index * leading), line, font=font, fill="black")
    return image


def image_bytes(image: Image.Image | Sequence[Image.Image], fmt: str, **options: object) -> bytes:
    """The image encoded as `fmt` ("PNG", "TIFF", ...); a sequence makes a multi-frame file."""
    frames = [image] if isinstance(image, Image.Image) else list(image)
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=len(frames) > 1, append_images=frames[1:], **options)
    return out.getvalue()


def make_scanned_pdf(pages: Sequence[str | Image.Image], dpi: int = 200) -> bytes:
    """A PDF mixing text pages (a text layer, as make_pdf writes) and scanned pages.

    A scanned page is one image covering the page, `dpi` pixels per inch, and no text at all.
    """
    text_pdf = pdfium.PdfDocument(make_pdf([p if isinstance(p, str) else "" for p in pages]))
    out = pdfium.PdfDocument.new()
    for index, page in enumerate(pages):
        if isinstance(page, str):
            out.import_pages(text_pdf, [index])
            continue
        width, height = page.width * 72 / dpi, page.height * 72 / dpi
        new_page = out.new_page(width, height)
        picture = pdfium.PdfImage.new(out)
        bitmap = pdfium.PdfBitmap.from_pil(page)
        picture.set_bitmap(bitmap)
        picture.set_matrix(pdfium.PdfMatrix().scale(width, height))
        new_page.insert_obj(picture)
        new_page.gen_content()
        bitmap.close()
        new_page.close()
    buffer = io.BytesIO()
    out.save(buffer)
    out.close()
    text_pdf.close()
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` grey pixels and holds almost none of them."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + checksum

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
