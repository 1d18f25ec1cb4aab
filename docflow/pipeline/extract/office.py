"""EPUB, read by kreuzberg with OCR off; other readers call run_kreuzberg for .doc, .ppt, XLS(X).

kreuzberg (MIT, Rust) is fast and robust on odd files. It runs here without its result cache
(it would write under $HOME), without OCR (scanned pages are the OCR stage's job), single-
threaded (a worker is one process among many) and with its own unpacking limits loosened to
ours, which `safe_zip` has already enforced before kreuzberg sees a zip-based file.
"""

from __future__ import annotations

import functools

import kreuzberg

from ..errors import CorruptDocument, DecompressionBomb, EncryptedDocument
from ..types import DetectedType, ExtractedText, Limits
from .registry import register
from .safe_zip import check_package

_FORMATS = {  # format: (MIME type kreuzberg knows it by, how a person names it)
    "epub": ("application/epub+zip", "EPUB e-book"),
}
_ZIP_BASED = frozenset({"pptx", "xlsx", "epub"})
_NO_RATIO_LIMIT = 2**31 - 1
_PASSWORD_HINTS = ("password", "encrypt", "drm")
_BOMB_HINTS = (  # kreuzberg's SecurityError sentences, old and current
    "zip bomb", "compression ratio", "archive size", "nesting depth", "too many files"
)


@register(*_FORMATS)
def extract_office(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    mime_type, label = _FORMATS[detected.format]
    result = run_kreuzberg(data, detected.format, mime_type, label, limits)
    return ExtractedText(text=result.content)


def run_kreuzberg(
    data: bytes, fmt: str, mime_type: str, label: str, limits: Limits
) -> kreuzberg.ExtractionResult:
    """kreuzberg's result for `data`, its errors turned into DocumentErrors."""
    if fmt in _ZIP_BASED:
        check_package(data, limits, label)  # sizes, ratio and member count before inflating
    try:
        return kreuzberg.extract_bytes_sync(data, mime_type, _config(limits))
    except kreuzberg.KreuzbergError as exc:
        reason = str(exc).lower()
        if any(hint in reason for hint in _PASSWORD_HINTS):
            raise EncryptedDocument(
                f"The {label} file is password-protected; remove the password and upload it "
                "again."
            ) from exc
        if any(hint in reason for hint in _BOMB_HINTS):
            raise DecompressionBomb(
                f"The {label} file would unpack far beyond its size, like a decompression bomb, "
                "so it was not read. If it is genuine, split it into smaller files."
            ) from exc
        raise CorruptDocument(_damaged(label)) from exc
    except Exception:
        raise  # not kreuzberg's: a time limit, say; the caller decides
    except BaseException as exc:
        # A panic inside kreuzberg's Rust code arrives as pyo3's PanicException, which derives
        # from BaseException; it is still just a file kreuzberg could not read.
        if type(exc).__name__ != "PanicException":
            raise
        raise CorruptDocument(_damaged(label)) from exc


def _damaged(label: str) -> str:
    return (
        f"The {label} file could not be read; it may be damaged or incomplete. "
        "Try saving or exporting it again."
    )


@functools.lru_cache(maxsize=8)
def _config(limits: Limits) -> kreuzberg.ExtractionConfig:
    config = kreuzberg.ExtractionConfig(
        use_cache=False,  # the cache lives under $HOME; every document is read once anyway
        enable_quality_processing=False,  # keep the text as written; clean_text normalises it
        disable_ocr=True,
        concurrency=kreuzberg.ConcurrencyConfig(max_threads=1),
    )
    config.max_archive_depth = limits.max_archive_depth
    # Our own checks have run; kreuzberg's defaults (100:1, 100 MB of text) would refuse
    # ordinary large spreadsheets, so its limits follow ours with headroom. Its ratio test has
    # no size floor (ours judges only members past safe_zip.RATIO_FLOOR), so it must never fire.
    config.security_limits = {
        "max_archive_size": limits.max_unpacked_bytes,
        "max_compression_ratio": _NO_RATIO_LIMIT,
        "max_files_in_archive": limits.max_archive_members,
        "max_content_size": max(limits.max_unpacked_bytes, limits.max_text_chars * 4),
    }
    return config
