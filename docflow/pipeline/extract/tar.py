"""TAR archives and gzip/bzip2/xz files: every file inside becomes a child document.

A compressed file is inflated in bounded steps that count what really comes out, so a bomb
fails as `decompression_bomb` (past the expansion ratio) or `too_large` (past the unpacked
bytes) before it fills memory. A TAR (plain or compressed) gives one child per regular file;
links, devices and folders are skipped, paths are made relative and harmless. A compressed
file that is not a TAR gives one child. Archives inside are walked before any child is handed
on, under the same budget and depth limit as ZIP archives.
"""

from __future__ import annotations

import bz2
import io
import lzma
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import CorruptDocument, DecompressionBomb, DocumentTooLarge, EmptyDocument
from ..types import DetectedType, ExtractedText, Limits
from .children import ChildCollector, safe_filename
from .registry import register
from .safe_zip import RATIO_FLOOR, UnpackBudget

_STEP = 1024 * 1024
COMPRESSED = {"gzip": "gzip file", "bzip2": "bzip2 file", "xz": "xz file"}


def compression_of(data: bytes) -> str | None:
    """The compression of `data` from its magic number, or None."""
    if data.startswith(b"\x1f\x8b\x08"):
        return "gzip"
    if data.startswith(b"BZh") and data[3:4].isdigit() and data[4:10] == b"1AY&SY":
        return "bzip2"
    if data.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    return None


def is_tar(data: bytes) -> bool:
    """POSIX (ustar) and GNU TARs carry "ustar" at offset 257 of their first header."""
    return data[257:262] == b"ustar"


@register("tar", "gzip", "bzip2", "xz")
def extract_tar(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    budget = UnpackBudget.of(limits)
    label = COMPRESSED.get(detected.format, "TAR archive")
    raw = inflate(data, detected.format, limits, budget) if detected.format in COMPRESSED else data
    if raw.count(0) == len(raw):  # nothing, or only the zero blocks of a TAR with no entries
        raise EmptyDocument(f"The {label} holds nothing once unpacked.")
    children = ChildCollector(limits, label)
    warnings: list[str] = []
    if is_tar(raw):
        label = "TAR archive" if detected.format == "tar" else f"TAR archive in a {label}"
        for member in _tar_files(raw, limits, label, warnings):
            check_nested(member.data, limits, budget, depth=1)
            children.add(member.path, member.data, path=member.path)
        if not children.found:
            raise EmptyDocument(f"The {label} contains no files.")
    else:
        check_nested(raw, limits, budget, depth=1)
        name = _gzip_name(data) if detected.format == "gzip" else None
        children.add(name or "content", raw, path=name or "content")
    listing = [child.path for child in children.found]
    count = f"{len(listing):,} file" + ("" if len(listing) == 1 else "s")
    return ExtractedText(text="\n".join([f"{label[0].upper()}{label[1:]} with {count}:",
                                         *listing]),
                         warnings=warnings, children=children.found)


def check_nested(data: bytes, limits: Limits, budget: UnpackBudget, depth: int) -> None:
    """Walk a TAR or compressed file found inside an archive, against the outer budget."""
    fmt = compression_of(data)
    if fmt is None and not is_tar(data):
        from .archive import check_nested_zip  # ZIP members of a TAR, walked the same way

        check_nested_zip(data, limits, budget, depth)
        return
    if depth > limits.max_archive_depth:
        raise DecompressionBomb(
            f"The archive nests archives more than {limits.max_archive_depth} deep, as "
            "decompression bombs do, so it was not opened. Unpack the inner archives and "
            "upload their files."
        )
    try:
        raw = inflate(data, fmt, limits, budget) if fmt is not None else data
        if fmt is not None and not is_tar(raw):
            check_nested(raw, limits, budget, depth + 1)
            return
        for member in _tar_files(raw, limits, "TAR archive", []):
            check_nested(member.data, limits, budget, depth + 1)
    except CorruptDocument:
        return  # a damaged inner archive fails on its own when its child is processed


def inflate(data: bytes, fmt: str, limits: Limits, budget: UnpackBudget) -> bytes:
    """Decompress in steps of at most 1 MiB, refusing a bomb as soon as the output says so."""
    label = COMPRESSED[fmt]
    out = bytearray()
    try:
        for piece in _pieces(data, fmt):
            out += piece
            if len(out) > RATIO_FLOOR and len(out) > len(data) * limits.max_expansion_ratio:
                raise DecompressionBomb(
                    f"The {label} inflates more than {limits.max_expansion_ratio} times its "
                    f"size ({len(data):,} bytes), as decompression bombs do, so it was not "
                    "unpacked.")
            if len(out) > budget.left:
                raise DocumentTooLarge(
                    f"The {label} unpacks to more than {limits.max_unpacked_bytes:,} bytes; "
                    "split it or raise the limit.")
    except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
        raise CorruptDocument(
            f"The {label} could not be unpacked: it is damaged or incomplete (was the upload "
            "cut short?).") from exc
    budget.left -= len(out)
    return bytes(out)


def _pieces(data: bytes, fmt: str) -> Iterator[bytes]:
    """The decompressed bytes, at most _STEP at a time, across concatenated streams."""
    rest = data
    while rest:
        engine = _decompressor(fmt)
        piece = engine.decompress(rest, _STEP)
        yield piece
        while not engine.eof:
            if engine.needs_input:
                raise EOFError("the compressed stream ends before its end marker")
            yield engine.decompress(b"", _STEP)
        rest = engine.unused_data
        if fmt == "gzip":
            rest = rest.lstrip(b"\x00")  # padding some tools leave after the last member
        if rest and compression_of(rest) != fmt:
            break  # trailing bytes that are not another stream: ignore them, as gzip does


class _Zlib:
    """zlib's decompressobj dressed like bz2's and lzma's decompressors."""

    def __init__(self) -> None:
        self._engine = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self._pending = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        piece = self._engine.decompress(self._pending + data, max_length)
        self._pending = self._engine.unconsumed_tail
        return piece

    @property
    def eof(self) -> bool:
        return self._engine.eof

    @property
    def needs_input(self) -> bool:
        return not self._pending and not self._engine.eof

    @property
    def unused_data(self) -> bytes:
        return self._engine.unused_data


def _decompressor(fmt: str) -> _Zlib | bz2.BZ2Decompressor | lzma.LZMADecompressor:
    makers: dict[str, Callable[[], _Zlib | bz2.BZ2Decompressor | lzma.LZMADecompressor]] = {
        "gzip": _Zlib, "bzip2": bz2.BZ2Decompressor, "xz": lzma.LZMADecompressor}
    return makers[fmt]()


@dataclass(frozen=True)
class _Member:
    path: str
    data: bytes


def _tar_files(raw: bytes, limits: Limits, label: str, warnings: list[str]) -> Iterator[_Member]:
    """Regular files of a TAR in order; anything else is skipped with a warning."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")  # noqa: SIM115 (with below)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CorruptDocument(f"The {label} could not be opened: its structure is damaged or "
                              "incomplete.") from exc
    seen = declared = 0
    with archive:
        try:
            while (member := archive.next()) is not None:
                seen += 1
                if seen > limits.max_archive_members:
                    raise DocumentTooLarge(
                        f"The {label} holds more than {limits.max_archive_members:,} entries; "
                        "split it into smaller archives.")
                if member.isdir():
                    continue
                if not member.isreg():
                    warnings.append(f"{safe_filename(member.name)!r} is a link or a special "
                                    "file and was skipped.")
                    continue
                declared += member.size
                if declared > limits.max_unpacked_bytes:  # a sparse member can claim terabytes
                    if declared > len(raw) * limits.max_expansion_ratio:
                        raise DecompressionBomb(
                            f"The {label} declares {declared:,} bytes in {len(raw):,}, as "
                            "decompression bombs do, so it was not unpacked.")
                    raise DocumentTooLarge(
                        f"The {label} unpacks to more than {limits.max_unpacked_bytes:,} "
                        "bytes; split it or raise the limit.")
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                yield _Member(path=member.name, data=handle.read())
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise CorruptDocument(f"The {label} is damaged or incomplete after {seen:,} "
                                  "entries (was the upload cut short?).") from exc


def _gzip_name(data: bytes) -> str | None:
    """The original file name a gzip header may carry (FNAME), in latin-1 as RFC 1952 says."""
    if len(data) < 10 or not data[3] & 0x08:
        return None
    at = 10
    if data[3] & 0x04:  # FEXTRA comes first
        if len(data) < 12:
            return None
        at += 2 + int.from_bytes(data[10:12], "little")
    end = data.find(b"\x00", at, at + 1024)
    if end < 0:
        return None
    return safe_filename(data[at:end].decode("latin-1")) or None
