"""PowerPoint 97-2003 (.ppt) text from its record stream, for files kreuzberg cannot read.

kreuzberg reads most .ppt files; where it fails or finds no text this reader takes over. The
`PowerPoint Document` stream is a tree of records (8-byte header: version and instance, type,
length; version 0xF marks a container). Text lives in TextCharsAtom (UTF-16) and TextBytesAtom
(8-bit) records, and comments in CString records of a comment container; the records are walked
in stream order with an explicit stack (no recursion on hostile nesting). The masters'
placeholder prompts ("Click to edit Master title style") are not document text and are left
out; a master's own text boxes are kept.
"""

from __future__ import annotations

import struct

from ..errors import CorruptDocument, DocumentError, EncryptedDocument
from ..ole2 import open_ole, read_stream
from ..types import DetectedType, ExtractedText, Limits
from .office import run_kreuzberg
from .registry import register

_MIME = "application/vnd.ms-powerpoint"
_LABEL = "PowerPoint 97-2003 (.ppt)"
_STREAM = "PowerPoint Document"
_TEXT_HEADER, _TEXT_CHARS, _TEXT_BYTES, _CSTRING = 0x0F9F, 0x0FA0, 0x0FA8, 0x0FBA
_MAIN_MASTER, _COMMENT = 0x03F8, 0x2EE0
_CRYPT_SESSION = 0x2F14
_OTHER_TEXT = 4  # TextHeaderAtom type of a text box that is no placeholder
_MAX_DEPTH = 64  # real files nest a dozen deep; deeper containers are skipped


@register("ppt")
def extract_ppt(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    try:
        result = run_kreuzberg(data, "ppt", _MIME, _LABEL, limits)
    except EncryptedDocument:
        raise
    except DocumentError as failed:  # kreuzberg cannot read it: the records may still
        try:
            return _ours(data)
        except DocumentError:
            raise failed from None
    if result.content.strip():
        return ExtractedText(text=result.content)
    try:
        return _ours(data)
    except DocumentError:
        return ExtractedText(text=result.content)


def _ours(data: bytes) -> ExtractedText:
    skipped: list[str] = []
    return ExtractedText(text=ppt_text(data, skipped), skipped=skipped)


def ppt_text(data: bytes, skipped: list[str] | None = None) -> str:
    """The text of the PowerPoint 97-2003 file `data`: slides, notes, comments, in file order.
    A stream cut short is read up to the cut, which is named in `skipped`."""
    try:
        ole = open_ole(data)
    except (OSError, ValueError, struct.error) as exc:
        raise CorruptDocument(_damaged()) from exc
    with ole:
        if ole.exists("EncryptedSummary"):
            raise EncryptedDocument(_encrypted())
        if not ole.exists(_STREAM):
            raise CorruptDocument(_damaged())
        try:
            stream = read_stream(ole, _STREAM, len(data))
        except (OSError, ValueError, struct.error) as exc:
            raise CorruptDocument(_damaged()) from exc
    texts, cut = _texts(stream)
    if cut is not None and skipped is not None:
        skipped.append(f"The slide stream is cut short at byte {cut:,} (the file is incomplete); "
                       "the slides after it are missing.")
    return "\n".join(texts)


def _texts(stream: bytes) -> tuple[list[str], int | None]:
    """The texts in stream order, and where a record cut short ends the stream (if one does)."""
    texts: list[str] = []
    # (end of the container, its type) for each open container
    open_containers: list[tuple[int, int]] = []
    inside = {_MAIN_MASTER: 0, _COMMENT: 0}  # open containers of these types, kept as counts
    text_type = -1  # the last TextHeaderAtom's type
    pos, end = 0, len(stream)
    cut: int | None = None
    while pos + 8 <= end:
        while open_containers and pos >= open_containers[-1][0]:
            closed = open_containers.pop()[1]
            if closed in inside:
                inside[closed] -= 1
        version_instance, kind, length = struct.unpack_from("<HHI", stream, pos)
        body = pos + 8
        if version_instance & 0x000F == 0x000F:  # a container: its records follow
            if kind == _CRYPT_SESSION:
                raise EncryptedDocument(_encrypted())
            if len(open_containers) < _MAX_DEPTH:
                # A container cut short still holds whole records up to the stream's end.
                open_containers.append((min(body + length, end), kind))
                if kind in inside:
                    inside[kind] += 1
                pos = body
            else:
                pos = body + length
            continue
        if body + length > end:
            cut = pos  # a record cut short: what came before it is still good
            break
        in_master = inside[_MAIN_MASTER] > 0
        if kind == _TEXT_HEADER and length >= 4:
            text_type = struct.unpack_from("<I", stream, body)[0]
        elif kind in (_TEXT_CHARS, _TEXT_BYTES) and not (
            in_master and text_type != _OTHER_TEXT
        ):
            raw = stream[body : body + length]
            codec = "utf-16-le" if kind == _TEXT_CHARS else "latin-1"
            texts.append(raw.decode(codec, "replace").replace("\r", "\n").replace("\x0b", "\n"))
        elif (
            kind == _CSTRING
            and version_instance >> 4 == 1  # instance 1 of a comment's strings: its text
            and inside[_COMMENT] > 0
        ):
            texts.append(stream[body : body + length].decode("utf-16-le", "replace"))
        pos = body + length
    # "*" alone is the slide-number placeholder's stand-in, not text anyone typed.
    return [text for text in texts if text.strip() and text != "*"], cut


def _encrypted() -> str:
    return (
        f"The {_LABEL} file is password-protected; remove the password and upload it again."
    )


def _damaged() -> str:
    return (
        f"The {_LABEL} file could not be read; it may be damaged or incomplete. "
        "Try saving it again from PowerPoint."
    )
