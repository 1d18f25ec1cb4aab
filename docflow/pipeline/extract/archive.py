"""ZIP archives: every member becomes a child document; the archive's own text lists them.
(TAR, gzip, bzip2 and xz files: extract/tar.py.)

Before any member is handed on, the whole archive is checked, nested archives included: the
declared sizes and expansion ratio of every level, the bytes really inflated (one budget for
all levels), the member count and the nesting depth. A zip bomb, a 42.zip-style pyramid or a
zip quine therefore fails here as `decompression_bomb` instead of reaching the worker.
"""

from __future__ import annotations

import io
import mimetypes
import zipfile

from ..errors import CorruptDocument, DecompressionBomb, EmptyDocument, EncryptedDocument
from ..types import DetectedType, ExtractedText, Limits
from ..zip_directory import find_zip
from .children import ChildCollector, safe_filename
from .registry import register
from .safe_zip import UnpackBudget, check_members, open_zip, read_member
from .tar import check_nested

_LABEL = "ZIP archive"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Packages that are documents, not archives: their own readers open only the parts they need.
_PACKAGE_MARKERS = ("[Content_Types].xml", "mimetype", "META-INF/manifest.xml")
_ENCRYPTED = 0x1


@register("zip")
def extract_archive(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    archive = open_zip(data, limits, _LABEL)
    budget = UnpackBudget.of(limits)
    members = [member for member in archive.infolist() if _is_file(member)]
    if not members:
        raise EmptyDocument("The ZIP archive contains no files.")
    locked = [member for member in members if member.flag_bits & _ENCRYPTED]
    if len(locked) == len(members):
        raise EncryptedDocument(
            "The ZIP archive is password-protected; extract it with its password and upload the "
            "files, or an archive without a password."
        )
    children = ChildCollector(limits, _LABEL)
    _add_document_before(data, limits, children)
    skipped = [
        f"{safe_filename(member.filename)!r} is password-protected and was skipped."
        for member in locked
    ]
    damaged: CorruptDocument | None = None
    for member in members:
        if member.flag_bits & _ENCRYPTED:
            continue
        try:
            payload = read_member(archive, member, limits, budget, _LABEL)
        except CorruptDocument as exc:  # one damaged member: the others are still handed over
            damaged = damaged or exc
            skipped.append(f"{safe_filename(member.filename)!r} is damaged in the archive and "
                           "could not be unpacked; it was skipped.")
            continue
        check_nested(payload, limits, budget, depth=1)
        children.add(member.filename, payload, path=member.filename)
    if damaged is not None and not children.found:
        raise damaged  # nothing at all could be unpacked: the archive is what is broken
    listing = [child.path for child in children.found]
    count = f"{len(listing):,} file" + ("" if len(listing) == 1 else "s")
    return ExtractedText(
        text="\n".join([f"ZIP archive with {count}:", *listing]),
        skipped=skipped,
        children=children.found,
    )


def _add_document_before(data: bytes, limits: Limits, children: ChildCollector) -> None:
    """A PDF, image or text in front of the archive (a polyglot) is a child too: nothing lost."""
    from ..detect import document_before_archive  # detect imports extract: import when used

    found = document_before_archive(data, limits)
    if found is not None:
        prefix, kind = found
        name = "document-before-archive" + (mimetypes.guess_extension(kind.mime_type) or "")
        children.add(name, prefix, path=name)


def check_nested_zip(data: bytes, limits: Limits, budget: UnpackBudget, depth: int) -> None:
    """Walk a ZIP inside an archive, counting its bytes against the same budget."""
    if not data.startswith(_ZIP_MAGIC) and find_zip(data) is None:
        return  # not an archive; one behind a stub counts, as detection reads it as a ZIP
    try:
        inner = zipfile.ZipFile(io.BytesIO(data))
        members = inner.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # a damaged inner archive fails on its own when its child is processed
    if any(member.filename in _PACKAGE_MARKERS for member in members):
        return  # a DOCX, ODT or EPUB: read under the limits by its own reader
    if depth > limits.max_archive_depth:
        raise DecompressionBomb(
            f"The ZIP archive nests archives more than {limits.max_archive_depth} deep, as "
            "decompression bombs do, so it was not opened. Unpack the inner archives and "
            "upload their files."
        )
    check_members(members, len(data), limits, _LABEL)  # declared sizes and ratio of this level
    for member in members:
        if _is_file(member) and not member.flag_bits & _ENCRYPTED:
            payload = read_member(inner, member, limits, budget, _LABEL)
            check_nested(payload, limits, budget, depth + 1)


def _is_file(member: zipfile.ZipInfo) -> bool:
    """A real file: not a folder, and not the litter macOS and Windows leave in archives."""
    if member.is_dir():
        return False
    name = member.filename.replace("\\", "/")
    base = name.rsplit("/", 1)[-1]
    return not (name.startswith("__MACOSX/") or base in (".DS_Store", "Thumbs.db", "desktop.ini"))

