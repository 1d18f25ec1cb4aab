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
_NON_ASCII_RUNS = re.compile(r"[^\x00-\x7f]+")
# Letters of Western European languages in windows-1252 (not Ð Ý Þ ð ý þ, which are mostly
# Turkish or Icelandic letters read in the wrong code page), and its common symbols.
_WESTERN_LETTERS = frozenset(
    "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜßàáâãäåæçèéêëìíîïñòóôõöøùúûüÿŒœŠšŽžŸ"
)
_WESTERN_SYMBOLS = frozenset("€–—‘’‚“”„†‡•…‰‹›™¡¢£¥§©«®°±²³´µ¶·¹º»¼½¾¿×÷")


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
    if declared == "cp1252" and not data.isascii() and b"\x00" not in data:
        # "us-ascii" and "iso-8859-1" labels are stamped on UTF-8 all the time; text that is
        # valid UTF-8 beyond ASCII is practically never windows-1252.
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if declared and declared != "utf-8":
        return data.decode(declared, "replace")
    # Declared or not, UTF-8 is checked strictly: "utf-8" is the commonest false declaration.
    if b"\x00" not in data:  # NULs decode as UTF-8 but mean UTF-16/32 without a BOM
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    # Detect on a prefix, decode everything: detection cost grows with size, accuracy does not.
    encoding = wide_unicode(data[:_SAMPLE_BYTES]) or detect_encoding(data[:_DETECTION_BYTES])
    return _strip_bom(data.decode(encoding, "replace"))


def wide_unicode(sample: bytes) -> str | None:
    """UTF-16 or UTF-32 without a BOM, told by where the zero bytes fall; None otherwise.

    Text in those encodings is mostly Latin script, so one byte of each code unit is zero:
    the same byte position, nearly every time. Checking that is instant where a general
    detector takes tens of milliseconds.
    """
    sample = sample[: len(sample) // 4 * 4]
    if len(sample) < 8 or b"\x00" not in sample:
        return None
    zeros = [sample[offset::4].count(0) / (len(sample) // 4) for offset in range(4)]
    candidates = (
        ("utf-32-le", zeros[2] > 0.95 and zeros[3] > 0.95 and zeros[0] < 0.05),
        ("utf-32-be", zeros[0] > 0.95 and zeros[1] > 0.95 and zeros[3] < 0.05),
        ("utf-16-le", min(zeros[1], zeros[3]) > 0.6 and max(zeros[0], zeros[2]) < 0.05),
        ("utf-16-be", min(zeros[0], zeros[2]) > 0.6 and max(zeros[1], zeros[3]) < 0.05),
    )
    for encoding, fits in candidates:
        if fits:
            try:
                sample.decode(encoding)
            except UnicodeDecodeError:
                continue
            return encoding
    return None


def detect_encoding(sample: bytes) -> str:
    """The most likely legacy encoding of `sample` (which is not UTF-8).

    charset-normalizer decides, with one correction: on Western text it often picks a Baltic or
    Central European code page, or a CJK one for a single accented letter in a short file,
    where windows-1252 reads just as cleanly. When windows-1252 gives only Western letters
    and punctuation, and the detector is unsure or rates windows-1252 about as clean, it wins.
    """
    results = charset_normalizer.from_bytes(sample)
    best = results.best()
    if b"\x00" not in sample and _reads_as_western(sample):  # NULs: UTF-16/32 without a BOM
        unsure = best is None or not best.languages or best.coherence < 0.2
        if unsure or sum(byte > 0x7F for byte in sample) <= 3:
            return "cp1252"
        for match in results:
            if match.encoding == "cp1252" and match.chaos <= best.chaos + 0.1:
                return "cp1252"
    return best.encoding if best is not None else "cp1252"


def _reads_as_western(sample: bytes) -> bool:
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        return False
    for run in _NON_ASCII_RUNS.findall(text):
        # Accented letters come alone or in runs; symbols next to each other mean mojibake.
        if len(run) > 1 and not all(char in _WESTERN_LETTERS for char in run):
            return False
        if not all(char in _WESTERN_LETTERS or char in _WESTERN_SYMBOLS for char in run):
            return False
    return True


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
    wide = wide_unicode(sample)
    if wide:
        return _few_controls(sample.decode(wide, "ignore"))
    best = charset_normalizer.from_bytes(sample).best()
    return best is not None and _few_controls(str(best))


def _few_controls(text: str) -> bool:
    return bool(text) and len(_CONTROLS.findall(text)) <= len(text) * _MAX_CONTROL_RATIO


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text
