"""Decide what a file is from its bytes first and its name second.

Names lie (a `.pdf` that is really a text file, a `.txt` that is a zip), so magic bytes win; the
extension only picks between formats the content cannot tell apart (CSV vs. plain text) and
names the format of a container we could not open (a broken `.docx`).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from pathlib import PurePath

from .encoding import bom_encoding, looks_like_text
from .errors import DocumentTooLarge, EmptyDocument, UnsupportedFormat
from .types import DetectedType, Limits

MIME_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "epub": "application/epub+zip",
    "zip": "application/zip",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "msg": "application/vnd.ms-outlook",
    "ole2": "application/x-ole-storage",
    "rtf": "application/rtf",
    "html": "text/html",
    "xml": "application/xml",
    "text": "text/plain",
    "markdown": "text/markdown",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "json": "application/json",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "webp": "image/webp",
}

IMAGE_FORMATS = frozenset({"png", "jpeg", "gif", "tiff", "bmp", "webp"})

# Extensions that only choose a flavour of text once the content is known to be text.
_TEXT_EXTENSIONS = {
    ".txt": "text", ".text": "text", ".log": "text",
    ".md": "markdown", ".markdown": "markdown",
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv",
    ".json": "json", ".xml": "xml",
    ".html": "html", ".htm": "html", ".xhtml": "html",
}

# Extensions that name a container format when its bytes are too broken to say so themselves.
_CONTAINER_EXTENSIONS = {
    ".docx": "docx", ".docm": "docx", ".dotx": "docx", ".dotm": "docx",
    ".xlsx": "xlsx", ".xlsm": "xlsx", ".pptx": "pptx",
    ".odt": "odt", ".ods": "ods", ".odp": "odp", ".epub": "epub", ".zip": "zip",
}

_ZIP_LAYOUTS = (  # (member that proves the layout, format)
    ("word/document.xml", "docx"),
    ("xl/workbook.xml", "xlsx"),
    ("ppt/presentation.xml", "pptx"),
)
_ODF_MIMETYPES = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
    b"application/vnd.oasis.opendocument.presentation": "odp",
    b"application/epub+zip": "epub",
}
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE2_STREAMS = (  # (stream name, format); the first found wins
    ("EncryptedPackage", "encrypted"),
    ("WordDocument", "doc"),
    ("Workbook", "xls"),
    ("Book", "xls"),
    ("PowerPoint Document", "ppt"),
    ("__properties_version1.0", "msg"),
)
_HTML_START = re.compile(
    rb"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
_CLOSING_TAG = re.compile(rb"</[a-z][a-z0-9]*\s*>", re.I)
_XML_START = re.compile(rb"\s*<\?xml\b")
_SNIFF_BYTES = 4096


def detect(data: bytes, filename: str, limits: Limits = Limits()) -> DetectedType:
    """Name the format of `data`; raise EmptyDocument, DocumentTooLarge or UnsupportedFormat."""
    if not data:
        raise EmptyDocument("The file is empty (0 bytes); upload it again or check the source.")
    if len(data) > limits.max_file_bytes:
        raise DocumentTooLarge(
            f"The file is {len(data):,} bytes, over the {limits.max_file_bytes:,}-byte limit; "
            "split it or raise the limit."
        )
    ext = PurePath(filename or "").suffix.lower()
    fmt = _sniff_binary(data, ext) or _sniff_markup(data) or _sniff_text(data, ext)
    if fmt is None:
        named = f" (its name says {ext})" if ext else ""
        raise UnsupportedFormat(
            f"The file's content is not a format docflow can read{named}; it may be damaged, "
            "or be a kind of file docflow does not support."
        )
    if isinstance(fmt, DetectedType):
        return fmt
    return DetectedType(format=fmt, mime_type=MIME_TYPES.get(fmt, "application/octet-stream"))


def _sniff_binary(data: bytes, ext: str) -> str | DetectedType | None:
    """Formats with a magic number, checked before anything that might decode as text."""
    head = data[:16]
    if _is_pdf(data):
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(data, ext)
    if head.startswith(_OLE2_MAGIC):
        return _sniff_ole2(data, ext)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if _is_bmp(data):
        return "bmp"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    return None


def _sniff_zip(data: bytes, ext: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            for member, fmt in _ZIP_LAYOUTS:
                if member in names:
                    return fmt
            if "mimetype" in names:
                with archive.open("mimetype") as f:
                    mimetype = f.read(100).strip()  # bounded read: never inflate a bomb
                if mimetype in _ODF_MIMETYPES:
                    return _ODF_MIMETYPES[mimetype]
    except (zipfile.BadZipFile, RuntimeError, OSError, KeyError, ValueError, EOFError):
        pass  # a broken archive: let the name say what it was meant to be, the reader reports it
    return _CONTAINER_EXTENSIONS.get(ext, "zip")


def _sniff_ole2(data: bytes, ext: str) -> str | DetectedType:
    names = _ole2_stream_names(data)
    for stream, fmt in _OLE2_STREAMS:
        if stream not in names:
            continue
        if fmt == "encrypted":  # Office 2007+ password protection wraps the zip in OLE2
            inner = _CONTAINER_EXTENSIONS.get(ext, "docx")
            return DetectedType(format=inner, mime_type=MIME_TYPES[inner], encrypted=True)
        return fmt
    return "ole2"


def _ole2_stream_names(data: bytes) -> set[str]:
    """Directory entry names, found where the compound-file format puts them (128-byte slots)."""
    found: set[str] = set()
    for stream, _ in _OLE2_STREAMS:
        needle = stream.encode("utf-16-le") + b"\x00\x00"
        start = data.find(needle)
        while start != -1:
            # The name's byte length (terminator included) follows the 64-byte name field.
            if start % 128 == 0 and data[start + 64 : start + 66] == struct.pack("<H", len(needle)):
                found.add(stream)
                break
            start = data.find(needle, start + 1)
    return found


def _is_pdf(data: bytes) -> bool:
    header = data.find(b"%PDF-", 0, 1024)
    if header <= 0:
        return header == 0
    # The spec allows junk before the header; a text that merely mentions "%PDF-" has no trailer.
    return b"%%EOF" in data[-2048:] or b"startxref" in data[-4096:]


def _is_bmp(data: bytes) -> bool:
    # "BM" alone starts plenty of text; the DIB header size pins it down.
    if not data.startswith(b"BM") or len(data) < 18:
        return False
    return struct.unpack_from("<I", data, 14)[0] in (12, 40, 52, 56, 64, 108, 124)


def _sniff_markup(data: bytes) -> str | None:
    head = _ascii_view(data[:_SNIFF_BYTES])
    if _XML_START.match(head):
        return "html" if b"<html" in head.lower() else "xml"  # XHTML; other XML stays XML
    if _HTML_START.match(head):
        return "html"
    return None


def _sniff_text(data: bytes, ext: str) -> str | None:
    if not looks_like_text(data):
        return None
    flavour = _TEXT_EXTENSIONS.get(ext, "text")
    if flavour == "html" and not _CLOSING_TAG.search(_ascii_view(data[:_SNIFF_BYTES])):
        return "text"  # named .html but holds no markup: plain text is the honest answer
    return flavour


def _ascii_view(head: bytes) -> bytes:
    """The sniff window as ASCII-compatible bytes, so UTF-16/32 markup is recognised too."""
    encoding = bom_encoding(head)
    if encoding in (None, "utf-8"):
        return head[3:] if encoding else head
    return head.decode(encoding, errors="ignore").encode("ascii", errors="ignore")
