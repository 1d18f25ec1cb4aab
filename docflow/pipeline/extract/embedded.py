"""Files embedded in Word, Excel and PowerPoint documents become child documents.

An OOXML package keeps embedded objects under `word/embeddings/`, `xl/embeddings/` or
`ppt/embeddings/`: Office files as they are (`Microsoft_Excel_Worksheet.xlsx`), anything else
wrapped in an OLE compound file (`oleObject1.bin`). The wrapper is opened: an OLE "Package"
(any file dragged into a document) gives the file with its own name, an Acrobat object its PDF,
and a 97-2003 Office object stays whole (the OLE file is that document). What cannot be
unwrapped is skipped with a warning; an embedded object never fails its host document. A small
picture (an icon, a logo; see inline_images) is not a document of its own and is left out.
Pictures placed on the page (`word/media/`, ...) are never children: they are the host's own
content, OCR'd with it when its text is thin (see office_pictures).
"""

from __future__ import annotations

import logging
import posixpath
import struct

from ..errors import DocumentError
from ..ole2 import open_ole, read_stream
from ..types import ChildDocument, Limits
from .children import ChildCollector
from .inline_images import is_decoration, looks_like_image
from .safe_zip import UnpackBudget, open_zip, read_member

log = logging.getLogger(__name__)

EMBEDDINGS = {"docx": "word/embeddings/", "xlsx": "xl/embeddings/", "pptx": "ppt/embeddings/"}
_LABELS = {"docx": "Word document", "xlsx": "Excel workbook", "pptx": "PowerPoint deck"}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OFFICE_STREAMS = ("WordDocument", "Workbook", "Book", "PowerPoint Document")


def embedded_children(data: bytes, fmt: str, limits: Limits) -> tuple[list[ChildDocument],
                                                                       list[str]]:
    """The files embedded in an OOXML document, and warnings for those that were skipped."""
    prefix = EMBEDDINGS.get(fmt)
    if prefix is None:
        return [], []
    label = _LABELS[fmt]
    archive = open_zip(data, limits, label)
    members = [m for m in archive.infolist()
               if m.filename.startswith(prefix) and not m.is_dir()]
    if not members:
        return [], []
    budget = UnpackBudget.of(limits)
    children = ChildCollector(limits, f"embedded objects of the {label}")
    warnings: list[str] = []
    for member in members:
        name = posixpath.basename(member.filename)
        try:
            payload = read_member(archive, member, limits, budget, label)
            unwrapped = unwrap_ole(payload) if payload.startswith(_OLE_MAGIC) else (name, payload)
            if unwrapped is None:
                warnings.append(f"The embedded object {name!r} is of a kind docflow cannot "
                                "unwrap; it was skipped.")
                continue
            inner_name, inner = unwrapped
            if looks_like_image(inner, filename=inner_name or name) and is_decoration(inner):
                continue  # an icon or logo, not a file someone embedded to be read
            if inner:
                children.add(inner_name or name, inner, path=f"embedded/{inner_name or name}")
        except DocumentError as exc:
            warnings.append(f"The embedded object {name!r} was skipped: {exc.message}")
    return children.found, warnings


def unwrap_ole(payload: bytes) -> tuple[str, bytes] | None:
    """(file name, bytes) of what an OLE wrapper holds, or None when it holds nothing known."""
    try:
        with open_ole(payload) as ole:
            if ole.exists("\x01Ole10Native"):
                return _ole10_native(read_stream(ole, "\x01Ole10Native", len(payload)))
            if ole.exists("CONTENTS"):  # Acrobat's embedded PDF
                body = read_stream(ole, "CONTENTS", len(payload))
                return ("embedded.pdf", body) if body.startswith(b"%PDF") else None
            if ole.exists("Package"):  # an Office 2007+ file in an OLE wrapper
                return "", read_stream(ole, "Package", len(payload))
            if any(ole.exists(stream) for stream in _OFFICE_STREAMS):
                return "", payload  # a 97-2003 Office document: the OLE file is the document
    except Exception as exc:  # any wrapper olefile cannot read is skipped, never the host
        log.debug("embedded OLE object not readable: %s", exc)
    return None


def _ole10_native(stream: bytes) -> tuple[str, bytes] | None:
    """The "Packager" layout: size, flags, label, source path, temp path, data size, data."""
    try:
        at = 4 + 2  # total size, flags
        label, at = _cstring(stream, at)
        _source, at = _cstring(stream, at)
        at += 4  # unknown
        at += 4 + struct.unpack_from("<I", stream, at)[0]  # temp path, length-prefixed
        size = struct.unpack_from("<I", stream, at)[0]
        at += 4
    except struct.error:
        return None
    if size > len(stream) - at:
        return None
    return label.replace("\\", "/").rsplit("/", 1)[-1], stream[at:at + size]


def _cstring(data: bytes, at: int) -> tuple[str, int]:
    end = data.index(b"\x00", at) if b"\x00" in data[at:at + 4096] else -1
    if end < 0:
        raise struct.error("unterminated string")
    return data[at:end].decode("latin-1"), end + 1
