"""Turn text-like bytes into str: BOM first, then a declared charset, then UTF-8, then detection."""

from __future__ import annotations

import codecs
import re

import charset_normalizer

# UTF-32 before UTF-16: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# WHATWG: pages that say latin-1/ASCII are really windows-1252 (curly quotes, euro sign).
_WINDOWS_1252_ALIASES = frozenset({"iso8859-1", "ascii"})
_SAMPLE_BYTES = 64 * 1024  # enough to tell text from binary
_DETECTION_BYTES = 1024 * 1024  # enough to tell one charset from another
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")  # not tab, newlines, form feed, ESC
_MAX_CONTROL_RATIO = 0.01


def bom_encoding(data: bytes) -> str | None:
    """The codec named by a byte-order mark at the start of `data`, if any."""
    return _split_bom(data)[0]


def _split_bom(data: bytes) -> tuple[str | None, bytes]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, data[len(bom):]
    return None, data


def normalize_charset(name: str | None) -> str | None:
    """A Python codec name for a declared charset, or None when it is unknown or unusable."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("\"'"))
    except (LookupError, ValueError):
        return None
    if codec.name.startswith(("utf-16", "utf-32")):
        return None  # a declaration cannot describe the bytes it is written in; WHATWG ignores it
    return "cp1252" if codec.name in _WINDOWS_1252_ALIASES else codec.name


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode `data` to str; never raises (undecodable bytes become U+FFFD)."""
    bom, body = _split_bom(data)
    if bom:
        return body.decode(bom, "replace")
    declared = normalize_charset(declared)
    if declared and declared != "utf-8":
        return data.decode(declared, "replace")
    # Declared or not, UTF-8 is checked strictly: "utf-8" is the commonest false declaration.
    if b"\x00" not in data:  # NULs decode as UTF-8 but mean UTF-16/32 without a BOM
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    # Detect on a prefix, decode everything: detection cost grows with size, accuracy does not.
    best = charset_normalizer.from_bytes(data[:_DETECTION_BYTES]).best()
    encoding = best.encoding if best is not None else "cp1252"
    return _strip_bom(data.decode(encoding, "replace"))


def looks_like_text(data: bytes) -> bool:
    """True when the start of `data` decodes to text with hardly any control characters."""
    sample = data[:_SAMPLE_BYTES]
    bom, body = _split_bom(sample)
    if bom:
        return _few_controls(body.decode(bom, "ignore"))
    if b"\x00" not in sample:
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            # final=False: a sample cut inside a multi-byte character is still valid UTF-8
            return _few_controls(decoder.decode(sample, final=len(sample) == len(data)))
        except UnicodeDecodeError:
            pass
    best = charset_normalizer.from_bytes(sample).best()
    return best is not None and _few_controls(str(best))


def _few_controls(text: str) -> bool:
    return bool(text) and len(_CONTROLS.findall(text)) <= len(text) * _MAX_CONTROL_RATIO


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text
