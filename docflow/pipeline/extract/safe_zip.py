"""ZIP containers opened under Limits: every reader of a zip-based format goes through here.

DOCX, XLSX, PPTX, ODF and EPUB files are ZIP packages, and so are archives, so one guard covers
them all. A package is refused before anything inflates when its central directory declares too
many members, too many bytes (the absolute budget) or a member over RATIO_FLOOR with a bomb-like
expansion ratio; members are then read in chunks that count what really comes out, so a header
that lies about sizes cannot get past either.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import CorruptDocument, DecompressionBomb, DocumentTooLarge, EncryptedDocument
from ..types import Limits
from ..zip_directory import ZipEntry, central_directory

# Only what inflates past this is judged by its expansion ratio. Below it a ratio says nothing:
# real parts (a slide of repeated shapes, a sheet of styled empty cells) reach 300-1000:1 at a
# few MB, and deflate cannot exceed ~1032:1 anyway. And below it a member costs less memory than
# one A4 page rendered for OCR at 300 dpi in colour (~26 MB), which workers do all the time;
# the absolute budget (Limits.max_unpacked_bytes) still bounds all members together.
RATIO_FLOOR = 16 * 1024 * 1024
_CHUNK = 256 * 1024
_ENCRYPTED_FLAG = 0x1


def check_package(data: bytes, limits: Limits, label: str) -> None:
    """The declared-size checks of open_zip, without opening the zip (for kreuzberg's input)."""
    entries = central_directory(data)
    if entries is None:
        open_zip(data, limits, label).close()  # zipfile explains what is wrong, or copes
    else:
        check_members(entries, len(data), limits, label)


@dataclass
class UnpackBudget:
    """Bytes that may still be inflated; shared by an archive and the archives nested in it."""

    left: int

    @classmethod
    def of(cls, limits: Limits) -> UnpackBudget:
        return cls(left=limits.max_unpacked_bytes)


def open_zip(data: bytes, limits: Limits, label: str) -> zipfile.ZipFile:
    """Open `data` as a zip once its directory is within `limits`; DocumentErrors otherwise."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise CorruptDocument(
            f"The {label} file could not be opened: its zip structure is damaged or incomplete "
            "(was the upload or download cut short?). Try saving or exporting it again."
        ) from exc
    check_members(members, len(data), limits, label)
    return archive


def check_members(
    members: Sequence[zipfile.ZipInfo | ZipEntry], packed_size: int, limits: Limits, label: str
) -> None:
    """Refuse a package whose declared sizes break the limits, before inflating anything."""
    if len(members) > limits.max_archive_members:
        raise DocumentTooLarge(
            f"The {label} file holds {len(members):,} files, over the limit of "
            f"{limits.max_archive_members:,}; split it into smaller archives."
        )
    declared = 0
    for member in members:
        if member.file_size > RATIO_FLOOR and (
            member.file_size > member.compress_size * limits.max_expansion_ratio
        ):
            raise DecompressionBomb(_bomb_message(label, member.file_size, member.compress_size))
        declared += member.file_size
    if declared > limits.max_unpacked_bytes:
        if declared > packed_size * limits.max_expansion_ratio:
            raise DecompressionBomb(_bomb_message(label, declared, packed_size))
        raise DocumentTooLarge(
            f"The {label} file unpacks to {declared:,} bytes, over the "
            f"{limits.max_unpacked_bytes:,}-byte limit; split it or raise the limit."
        )


def read_member(
    archive: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    limits: Limits,
    budget: UnpackBudget,
    label: str,
) -> bytes:
    """A member's bytes, counted as they inflate against its declared size and the budget."""
    if member.flag_bits & _ENCRYPTED_FLAG:
        raise EncryptedDocument(
            f"{member.filename!r} in the {label} file is password-protected; "
            "remove the password and upload it again."
        )
    out = bytearray()
    try:
        # Python's zipfile stops at the declared size; its CRC check then catches a lying header.
        with archive.open(member) as stream:
            while chunk := stream.read(_CHUNK):
                out += chunk
                if len(out) > budget.left:
                    raise DecompressionBomb(
                        f"The {label} file unpacks to more than {limits.max_unpacked_bytes:,} "
                        "bytes, nested archives included: it looks like a decompression bomb, so "
                        "it was not opened. If it is genuine, split it into smaller files."
                    )
    except DecompressionBomb:
        raise
    except Exception as exc:  # zlib, bz2 and lzma errors, bad CRCs, unsupported methods
        raise CorruptDocument(
            f"{member.filename!r} in the {label} file could not be unpacked: the archive is "
            "damaged, or uses a compression method docflow does not support."
        ) from exc
    budget.left -= len(out)
    return bytes(out)


def _bomb_message(label: str, unpacked: int, packed: int) -> str:
    size = f" from {packed:,} bytes" if packed else ""
    return (
        f"The {label} file would unpack to {unpacked:,} bytes{size}: it looks like a "
        "decompression bomb, so it was not opened. If it is genuine, split it into smaller files."
    )
