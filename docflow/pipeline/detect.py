"""Decide what a file is from its bytes first and its name second.

Names lie (a `.pdf` that is really a text file, a `.txt` that is a zip), so the content wins, and
by its structure rather than its first signature: a ZIP by its directory (a stored PDF as first
member does not make the archive a PDF), an OLE2 file by its root streams (see ole2.py). The
extension only picks between formats the content cannot tell apart (CSV vs. plain text) and
names the format of a container we could not open (a broken `.docx`).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from pathlib import PurePath

from .encoding import bom_encoding, looks_like_text
from .errors import DocumentError, DocumentTooLarge, EmptyDocument, UnsupportedFormat
from .extract.tar import compression_of, is_tar
from .image_size import image_dimensions
from .ole2 import ole2_kind
from .types import DetectedType, Limits
from .zip_directory import ZipDirectory, ZipEntry, find_zip

MIME_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "odg": "application/vnd.oasis.opendocument.graphics",
    "epub": "application/epub+zip",
    "zip": "application/zip",
    "tar": "application/x-tar",
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "ppt40": "application/vnd.ms-powerpoint",  # PowerPoint 4.0: known, not read (see ole2.py)
    "msg": "application/vnd.ms-outlook",
    "eml": "message/rfc822",
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
    ".eml": "eml", ".mht": "eml", ".mhtml": "eml",
}

# Extensions that name a container format when its bytes are too broken to say so themselves.
_CONTAINER_EXTENSIONS = {
    ".docx": "docx", ".docm": "docx", ".dotx": "docx", ".dotm": "docx",
    ".xlsx": "xlsx", ".xlsm": "xlsx", ".xltx": "xlsx", ".xltm": "xlsx",
    ".pptx": "pptx", ".pptm": "pptx", ".ppsx": "pptx", ".potx": "pptx",
    ".odt": "odt", ".ods": "ods", ".odp": "odp", ".odg": "odg", ".ott": "odt", ".ots": "ods",
    ".otp": "odp", ".epub": "epub", ".zip": "zip",
}

_OLE2_EXTENSIONS = {".msg": "msg", ".doc": "doc", ".xls": "xls", ".ppt": "ppt"}

_ZIP_LAYOUTS = (  # (member that proves the layout, format)
    ("word/document.xml", "docx"),
    ("xl/workbook.xml", "xlsx"),
    ("ppt/presentation.xml", "pptx"),
)
_ODF_MIMETYPES = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
    b"application/vnd.oasis.opendocument.presentation": "odp",
    b"application/vnd.oasis.opendocument.graphics": "odg",
    b"application/vnd.oasis.opendocument.text-template": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet-template": "ods",
    b"application/vnd.oasis.opendocument.presentation-template": "odp",
    b"application/epub+zip": "epub",
}
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HTML_START = re.compile(
    rb"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
_CLOSING_TAG = re.compile(rb"</[a-z][a-z0-9]*\s*>", re.I)
_XML_START = re.compile(rb"\s*<\?xml\b")
_SNIFF_BYTES = 4096
_PACKAGE_PART_BYTES = 1024 * 1024  # manifests are a few KiB; never inflate more to sniff
# The main part's content type names an OOXML package whatever its parts are called.
_OOXML_MAIN_TYPES = (
    (re.compile(rb"(wordprocessingml|ms-word)[\w.-]*\.main\+xml"), "docx"),
    (re.compile(rb"(spreadsheetml|ms-excel)[\w.-]*\.main\+xml"), "xlsx"),
    (re.compile(rb"(presentationml|ms-powerpoint)[\w.-]*\.main\+xml"), "pptx"),
)
# EPUB font obfuscation is listed in encryption.xml too, but leaves the text readable.
# Two steps, each linear: one pattern spanning both would rescan the rest of a tag from every
# "EncryptionMethod" in it (quadratic on a megabyte of them with no ">").
_EPUB_METHOD = re.compile(rb"EncryptionMethod[^>]*")
_EPUB_ALGORITHM = re.compile(rb"Algorithm\s*=\s*[\"']([^\"']+)")
_FONT_OBFUSCATION = {b"http://www.idpf.org/2008/embedding", b"http://ns.adobe.com/pdf/enc#RC"}
# An e-mail starts with a block of "Name: value" lines (continuations indented).
_HEADER_LINE = re.compile(rb"[A-Za-z][A-Za-z0-9-]*:[ \t]*\S?")
_MAIL_HEADERS = frozenset({
    b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"mime-version", b"received",
    b"return-path", b"delivered-to", b"reply-to", b"sender", b"in-reply-to", b"references",
    b"content-type", b"x-mailer", b"dkim-signature", b"x-originating-ip", b"thread-topic",
})
_MAIL_SIGNATURE = frozenset({b"from", b"date", b"subject", b"message-id", b"received"})


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
    detected = (
        fmt if isinstance(fmt, DetectedType)
        else DetectedType(format=fmt, mime_type=MIME_TYPES.get(fmt, "application/octet-stream"))
    )
    if detected.format in IMAGE_FORMATS:
        _check_pixels(data, detected.format, limits)
    return detected


def _check_pixels(data: bytes, fmt: str, limits: Limits) -> None:
    """Refuse an image whose header declares more pixels than Limits allow, before decoding."""
    for width, height in image_dimensions(data, fmt, max_frames=limits.max_pages):
        if width * height > limits.max_image_pixels:
            raise DocumentTooLarge(
                f"The {fmt.upper()} image is {width:,} × {height:,} pixels "
                f"({width * height:,}), over the {limits.max_image_pixels:,}-pixel limit; "
                "scale it down or split it before uploading."
            )


def _sniff_binary(data: bytes, ext: str) -> str | DetectedType | None:
    """Formats with a structure of their own, decided by that structure before any text test.

    A ZIP archive is found from its end, as ZIP readers find it. It decides the file when it
    starts at byte 0, whatever its first member is (a stored PDF or PNG included), and when it
    ends the file behind other bytes: a self-extractor's stub, or a PDF, image or text with an
    archive appended. Read as the archive, such a file loses nothing: the document in front
    becomes a child beside the members (see `document_before_archive`), while read as that
    document every member would be lost. An OLE2 or TAR file keeps its own format, since its
    streams or members routinely hold whole ZIP packages, and so does any file whose ZIP lies
    inside it rather than at its end (a PDF whose xref and trailer follow the archive).
    """
    archive = find_zip(data)
    at_start = _sniff_magic(data, ext)
    if archive is not None and _archive_owns_file(data, archive, at_start):
        return _sniff_zip(data, archive.entries, ext)
    if at_start is not None:
        return at_start
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(data, None, ext)  # a damaged archive: zipfile or the name decides
    if _is_pdf_after_junk(data):
        return "pdf"
    return None


def _archive_owns_file(data: bytes, archive: ZipDirectory, at_start: object) -> bool:
    if archive.start == 0:
        return True
    if not archive.entries:
        return False  # an end record alone, after other bytes, is a coincidence, not an archive
    if data.startswith(_OLE2_MAGIC) or is_tar(data):
        return False  # the ZIP is a stream or member inside the container that starts here
    # Ending the file, it was appended; otherwise only unknown bytes may surround it.
    return archive.end == len(data) or at_start is None


def document_before_archive(
    data: bytes, limits: Limits = Limits()
) -> tuple[bytes, DetectedType] | None:
    """The document in front of a ZIP archive that does not start at byte 0, and its type.

    None when the archive starts at byte 0, or when the bytes in front are no document docflow
    reads (a self-extractor's executable stub).
    """
    archive = find_zip(data)
    if archive is None or archive.start == 0:
        return None
    prefix = data[: archive.start]
    try:
        return prefix, detect(prefix, "", limits)
    except DocumentError:
        return None


def _sniff_magic(data: bytes, ext: str) -> str | DetectedType | None:
    """The format whose signature starts at byte 0 (ZIP aside: its directory decides)."""
    head = data[:16]
    if head.startswith(b"%PDF-"):
        return "pdf"
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
    if _is_biff_worksheet(head):
        return "xls"
    compressed = compression_of(data)
    if compressed is not None:
        return compressed
    if is_tar(data):
        return "tar"
    return None


# BOF record of an Excel 2.x-5.0 workbook saved as a bare record stream, not in an OLE2
# file: its type (BIFF2, 3, 4, 5/8), then the substream it opens (globals, sheet, chart, macros).
_BIFF_BOF = {0x0009: 4, 0x0209: 6, 0x0409: 6, 0x0809: 8}
_BIFF_SUBSTREAMS = {0x0005, 0x0006, 0x0010, 0x0020, 0x0040, 0x0100}


def _is_biff_worksheet(head: bytes) -> bool:
    if len(head) < 8:
        return False
    kind, length, _, substream = struct.unpack_from("<HHHH", head)
    return _BIFF_BOF.get(kind, -1) <= length <= 16 and substream in _BIFF_SUBSTREAMS


def _sniff_zip(data: bytes, entries: list[ZipEntry] | None, ext: str) -> str | DetectedType:
    if entries is not None:  # fast path: the names alone settle OOXML and plain archives
        names = {entry.filename for entry in entries}
        for member, fmt in _ZIP_LAYOUTS:
            if member in names:
                return fmt
        if "mimetype" not in names and "[Content_Types].xml" not in names:
            return "zip"  # a plain archive, whatever its name says
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            for member, fmt in _ZIP_LAYOUTS:
                if member in names:
                    return fmt
            if "mimetype" in names:
                fmt = _ODF_MIMETYPES.get(_read_part(archive, "mimetype").strip())
                if fmt is not None:
                    if _package_encrypted(archive, names, fmt):
                        return DetectedType(format=fmt, mime_type=MIME_TYPES[fmt], encrypted=True)
                    return fmt
            if "[Content_Types].xml" in names:
                content_types = _read_part(archive, "[Content_Types].xml")
                for pattern, fmt in _OOXML_MAIN_TYPES:
                    if pattern.search(content_types):
                        return fmt
            if "[Content_Types].xml" in names or "mimetype" in names:
                return _CONTAINER_EXTENSIONS.get(ext, "zip")  # a package we cannot name
            return "zip"  # a plain archive, whatever its name says
    except (zipfile.BadZipFile, RuntimeError, OSError, KeyError, ValueError, EOFError,
            zlib.error, NotImplementedError):
        pass  # a broken archive: let the name say what it was meant to be, the reader reports it
    return _CONTAINER_EXTENSIONS.get(ext, "zip")


def _read_part(archive: zipfile.ZipFile, name: str) -> bytes:
    with archive.open(name) as part:
        return part.read(_PACKAGE_PART_BYTES)  # bounded read: never inflate a bomb


def _package_encrypted(archive: zipfile.ZipFile, names: set[str], fmt: str) -> bool:
    """An ODF file saved with a password, or an EPUB whose text is locked by DRM."""
    if fmt == "epub":
        if "META-INF/encryption.xml" not in names:
            return False
        methods = _EPUB_METHOD.findall(_read_part(archive, "META-INF/encryption.xml"))
        algorithms = [found.group(1) for method in methods
                      if (found := _EPUB_ALGORITHM.search(method))]
        return any(algorithm not in _FONT_OBFUSCATION for algorithm in algorithms)
    if "META-INF/manifest.xml" not in names:
        return False
    return b"encryption-data" in _read_part(archive, "META-INF/manifest.xml")


def _sniff_ole2(data: bytes, ext: str) -> str | DetectedType:
    kind = ole2_kind(data)
    if kind is None:  # too damaged to list its root: the name says what it was meant to be
        return _OLE2_EXTENSIONS.get(ext, "ole2")
    fmt = kind.format
    if fmt == "ooxml":  # Office 2007+ password protection wraps the package in OLE2
        fmt = _CONTAINER_EXTENSIONS.get(ext, "docx")
        fmt = fmt if fmt in ("docx", "xlsx", "pptx") else "docx"
    if kind.encrypted:
        return DetectedType(format=fmt, mime_type=MIME_TYPES[fmt], encrypted=True)
    return fmt


def _is_pdf_after_junk(data: bytes) -> bool:
    header = data.find(b"%PDF-", 0, 1024)
    if header < 0:
        return False
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
    if flavour != "eml" and _looks_like_email(_ascii_view(data[:_SNIFF_BYTES])):
        return "eml"
    if flavour == "html" and not _CLOSING_TAG.search(_ascii_view(data[:_SNIFF_BYTES])):
        return "text"  # named .html but holds no markup: plain text is the honest answer
    return flavour


def _looks_like_email(head: bytes) -> bool:
    """A header block of "Name: value" lines, with the headers every e-mail carries."""
    lines = head.lstrip(b"\r\n").split(b"\n")
    if lines and lines[0].startswith(b"From "):  # an mbox separator line
        lines = lines[1:]
    known: set[bytes] = set()
    for line in lines[:-1]:  # the last line may be cut off by the sniff window
        line = line.rstrip(b"\r")
        if not line:
            break  # the blank line that ends the headers
        if line[:1] in (b" ", b"\t"):
            continue  # a folded header's continuation
        if not _HEADER_LINE.match(line):
            return False
        known.add(line.split(b":", 1)[0].lower())
    return len(known & _MAIL_HEADERS) >= 3 and bool(known & _MAIL_SIGNATURE)


def _ascii_view(head: bytes) -> bytes:
    """The sniff window as ASCII-compatible bytes, so UTF-16/32 markup is recognised too."""
    encoding = bom_encoding(head)
    if encoding in (None, "utf-8"):
        return head[3:] if encoding else head
    return head.decode(encoding, errors="ignore").encode("ascii", errors="ignore")
