"""Small pictures that only decorate a message or a document: signature logos, social icons,
bullets, tracking pixels. They never become documents of their own.

Measured on the e-mails in the evaluation set (mixed_formats): the pictures a mail body shows
by `cid:` are logos of 27x27, 116x41 and 253x45 pixels (0.5-5 KB), while a picture worth
reading (a pasted receipt, a screenshot, a scanned page) is several hundred pixels on both
sides. So a picture whose shorter side is under 200 pixels is a decoration: wide, short
banners and signatures included. When the header gives no size (a format Pillow does not
read, such as EMF), the bytes decide: under 20 KB is a decoration.
"""

from __future__ import annotations

from ..image_size import image_dimensions

DECORATION_MAX_SIDE = 200  # pixels: a picture with a shorter side below this only decorates
DECORATION_MAX_BYTES = 20 * 1024  # when its size in pixels cannot be read
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".emf",
                    ".wmf", ".svg", ".ico")

_MAGIC = (  # leading bytes -> the format name image_dimensions knows
    (b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF8", "gif"), (b"BM", "bmp"),
    (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"),
)


def looks_like_image(data: bytes, content_type: str = "", filename: str = "") -> bool:
    """A picture by its bytes, its declared type or its name."""
    return (image_format(data) is not None or content_type.lower().startswith("image/")
            or filename.lower().endswith(IMAGE_EXTENSIONS))


def image_format(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((fmt for magic, fmt in _MAGIC if data.startswith(magic)), None)


def is_decoration(data: bytes) -> bool:
    """True for a picture too small to be a document (see the module's note)."""
    fmt = image_format(data)
    sizes = image_dimensions(data, fmt, max_frames=1) if fmt else []
    if sizes:
        width, height = sizes[0]
        return min(width, height) < DECORATION_MAX_SIDE
    return len(data) < DECORATION_MAX_BYTES
