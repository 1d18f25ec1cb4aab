"""Images read by OCR: PNG, JPEG, TIFF (every frame a page), BMP, WebP and GIF (first frame).

The size in the header is checked before any pixel is decoded, so a 50,000 x 50,000 image is
refused at no cost. Each frame is flattened to grey on white (transparency would otherwise read
as black), turned upright by its EXIF orientation, and scaled up when its text is small:
Tesseract misreads lines under ~13 pixels high (a screenshot, a 72 dpi scan), while enlarging
text that is big enough costs time and, measured on SROIE receipts, accuracy too. So the
scale comes from the height of the text lines, measured from the image's row profile.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import replace

from PIL import Image, UnidentifiedImageError

from ..errors import CorruptDocument, DocumentError, DocumentTooLarge, TooManyPages
from ..textsize import text_line_height
from ..types import DetectedType, ExtractedText, Limits, PageText
from .pages import join_pages, ocr_page, skipped_page
from .registry import register

__all__ = ["extract_image", "ocr_picture", "text_line_height", "upscale_factor"]

_PIL_FORMATS = {  # our format name -> the only Pillow decoder allowed to open it
    "png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "bmp": "BMP", "webp": "WEBP", "gif": "GIF",
}
_LABELS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "bmp": "BMP", "webp": "WebP", "gif": "GIF"}
_MULTI_PAGE = frozenset({"tiff"})  # other formats' extra frames are animation, not pages

# Measured: Tesseract misreads lines under ~13 pixels (ascender to descender) and reads 15-20
# pixel lines on SROIE receipts better as they are than enlarged.
MIN_LINE_PX = 13  # text lines lower than this are scaled up...
TARGET_LINE_PX = 30  # ...to about this height
MAX_UPSCALE = 4.0
_TARGET_DPI = 300
_EXIF_ORIENTATION = 0x0112
_ORIENTATION_FIX = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


@register(*_PIL_FORMATS)
def extract_image(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    label = f"{_LABELS.get(detected.format, detected.format.upper())} image"
    image = _open(data, detected.format, label, limits)
    with image:
        frames = _frame_count(image, detected.format, label)
        if frames > limits.max_pages:
            raise TooManyPages(
                f"The {label} has {frames:,} pages, over the {limits.max_pages:,}-page limit; "
                "split it into smaller files."
            )
        pages = [_read_frame(image, index, label, limits) for index in range(frames)]
        skipped = _animation_frames(image, detected.format)
    extracted = join_pages(
        pages,
        label,
        f"OCR found no text in the {label}; if it does show text, try a sharper scan or a "
        "higher resolution.",
    )
    if skipped:
        note = f"Only the first frame of the animated {label} was read ({skipped:,} more skipped)."
        extracted = replace(extracted, warnings=[*extracted.warnings, note])
    return extracted


def ocr_picture(data: bytes, fmt: str, number: int, limits: Limits) -> PageText:
    """A picture inside another document (a scan pasted into Word) read as page `number`, the
    way an image file's first frame is; a picture that cannot be opened costs only itself."""
    label = f"{_LABELS.get(fmt, fmt.upper())} picture"
    try:
        image = _open(data, fmt, label, limits)
    except DocumentError:
        return skipped_page(number, "(a picture) could not be decoded")
    with image:
        return _read_frame(image, 0, label, limits)


def upscale_factor(
    line_height: float | None, dpi: float | None, width: int, height: int, max_pixels: int
) -> float:
    """How much to enlarge an image before OCR: 1.0 when its text is big enough already.

    Lines under MIN_LINE_PX pixels high grow to about TARGET_LINE_PX. When the lines cannot be
    measured, a resolution the file states under 300 dpi is brought up to 300 dpi. Never more
    than MAX_UPSCALE, never past the pixel limit.
    """
    if line_height is not None:
        factor = TARGET_LINE_PX / line_height if line_height < MIN_LINE_PX else 1.0
    else:
        factor = _TARGET_DPI / dpi if dpi else 1.0
    factor = min(factor, MAX_UPSCALE, (max_pixels / max(width * height, 1)) ** 0.5)
    return factor if factor >= 1.1 else 1.0  # a few per cent more pixels is not worth a resample


def _open(data: bytes, fmt: str, label: str, limits: Limits) -> Image.Image:
    """The image with its header read and checked; no pixel is decoded yet."""
    try:
        with warnings.catch_warnings():
            # Our pixel limit decides, and a damaged file is reported as corrupt, not warned of.
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]])
    except Image.DecompressionBombError as exc:
        found = _BOMB_PIXELS.search(str(exc))
        size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise DocumentTooLarge(
            f"The {label} has {size}, over the {limits.max_image_pixels:,}-pixel limit; "
            "scale it down or split it before uploading."
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptDocument(
            f"The {label} could not be opened; it may be damaged or incomplete."
        ) from exc
    _check_size(image, label, limits)
    return image


def _check_size(image: Image.Image, label: str, limits: Limits) -> None:
    width, height = image.size
    if width * height > limits.max_image_pixels:
        raise DocumentTooLarge(
            f"The {label} is {width:,} x {height:,} pixels, over the "
            f"{limits.max_image_pixels:,}-pixel limit; scale it down or split it before uploading."
        )
    if width < 1 or height < 1:
        raise CorruptDocument(f"The {label} has no pixels; it may be damaged.")


def _frame_count(image: Image.Image, fmt: str, label: str) -> int:
    if fmt not in _MULTI_PAGE:
        return 1
    try:
        return max(1, getattr(image, "n_frames", 1))
    except Exception as exc:  # a broken chain of TIFF directories
        raise CorruptDocument(
            f"The pages of the {label} could not be listed; it may be damaged."
        ) from exc


def _animation_frames(image: Image.Image, fmt: str) -> int:
    """Frames after the first in an animated GIF or WebP, which are not read."""
    if fmt in _MULTI_PAGE:
        return 0
    try:
        return max(0, getattr(image, "n_frames", 1) - 1)
    except Exception:  # counting frames decodes them; a broken tail only loses the note
        return 0


def _read_frame(image: Image.Image, index: int, label: str, limits: Limits) -> PageText:
    number = index + 1
    try:
        if index:
            image.seek(index)
            _check_size(image, label, limits)
        page, dpi, enlarged = _page_image(image, limits)
    except DocumentError:
        raise
    except Exception:  # one damaged frame should not cost the reader the others
        return skipped_page(number, "could not be decoded")
    try:
        # An enlarged page's lines measure taller than they are (resampling blurs them), and
        # shrinking it again would undo the enlargement.
        return ocr_page(page, number, limits.ocr, dpi=dpi, shrink=not enlarged)
    finally:
        page.close()


def _page_image(image: Image.Image, limits: Limits) -> tuple[Image.Image, int, bool]:
    """The current frame as upright grey on white, scaled up if small, with its resolution and
    whether it was scaled up."""
    orientation = _exif_orientation(image)
    dpi = _stated_dpi(image)
    page = _grey_on_white(image)
    if orientation in _ORIENTATION_FIX:
        page = page.transpose(_ORIENTATION_FIX[orientation])
    line_height = text_line_height(page)
    factor = upscale_factor(line_height, dpi, page.width, page.height, limits.max_image_pixels)
    if factor > 1.0:
        size = (round(page.width * factor), round(page.height * factor))
        page = page.resize(size, Image.Resampling.LANCZOS)
    return page, round(dpi * factor) if dpi else _TARGET_DPI, factor > 1.0


def _grey_on_white(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("I", "F") or mode.startswith("I;16"):  # 16/32-bit: stretch to 8-bit grey
        wide = image.convert("F")
        low, high = wide.getextrema()
        span = (high - low) or 1
        return wide.point(lambda v: (v - low) * 255 / span).convert("L")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        page = Image.new("L", rgba.size, 255)
        page.paste(rgba.convert("L"), mask=rgba.getchannel("A"))
        return page
    return image.convert("L")


def _exif_orientation(image: Image.Image) -> int | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return image.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # damaged EXIF costs the rotation, never the page
        return None


def _stated_dpi(image: Image.Image) -> float | None:
    """The resolution the file states, when it is a believable one."""
    dpi = image.info.get("dpi")
    try:
        value = float(dpi[0]) if isinstance(dpi, tuple) else float(dpi)
    except (TypeError, ValueError, IndexError):
        return None
    return value if 30 <= value <= 2400 else None
