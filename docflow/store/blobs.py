"""Originals, stored once by SHA-256. `BlobStore` is the boundary: local disk (or a volume the
hosts share) by default, an S3-compatible bucket in `store/s3_blobs.py`."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int


class BlobTooLarge(Exception):
    """The stream passed the size limit before it ended; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"file is larger than the limit of {limit} bytes")
        self.limit = limit


class BlobStore(Protocol):
    tmp_dir: Path

    def writer(self, max_bytes: int | None = None) -> BlobWriter: ...
    def put_stream(self, stream: BinaryIO, max_bytes: int | None = None) -> StoredBlob: ...
    def put_file(self, path: Path, max_bytes: int | None = None) -> StoredBlob: ...
    def read(self, sha256: str) -> bytes: ...
    def open(self, sha256: str) -> BinaryIO:
        """A readable stream of the original; raises FileNotFoundError when it is gone."""
        ...
    def local_path(self, sha256: str) -> Path | None:
        """The file on disk, where the store has one (lets the API send it with sendfile)."""
        ...
    def exists(self, sha256: str) -> bool: ...
    def adopt(self, tmp: Path, sha256: str) -> None:
        """Take a fully written temp file as the original with this digest. An original that
        is already there is touched: the orphan sweep spares what was stored lately."""
        ...
    def listing(self) -> Iterator[tuple[str, float]]:
        """Every stored original: its digest and when it was last stored (epoch seconds)."""
        ...
    def stored_at(self, sha256: str) -> float | None:
        """When the original was last stored, or None when it is not there."""
        ...
    def delete(self, sha256: str) -> None: ...


class BlobWriter:
    """Receives a file in chunks (as a multipart parser hands them over), hashing as it goes."""

    def __init__(self, store: BlobStore, max_bytes: int | None) -> None:
        self._store = store
        self._max = max_bytes
        self._hash = hashlib.sha256()
        self._size = 0
        fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="upload-")
        self._tmp = Path(name)
        self._file = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._max is not None and self._size > self._max:
            self.abort()
            raise BlobTooLarge(self._max)
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self) -> StoredBlob:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        sha = self._hash.hexdigest()
        self._store.adopt(self._tmp, sha)
        return StoredBlob(sha256=sha, size=self._size)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)


class _Puts:
    """put_stream/put_file for any store that has `writer`."""

    def writer(self, max_bytes: int | None = None) -> BlobWriter:
        return BlobWriter(self, max_bytes)  # type: ignore[arg-type]

    def put_stream(self, stream: BinaryIO, max_bytes: int | None = None) -> StoredBlob:
        writer = self.writer(max_bytes)
        try:
            while chunk := stream.read(CHUNK):
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        return writer.finish()

    def put_file(self, path: Path, max_bytes: int | None = None) -> StoredBlob:
        with path.open("rb") as f:
            return self.put_stream(f, max_bytes)


class LocalBlobStore(_Puts):
    """`<root>/ab/cd/abcd…` on a local disk or on a volume the hosts share."""

    def __init__(self, root: Path, tmp_dir: Path) -> None:
        self.root = root
        self.tmp_dir = tmp_dir
        root.mkdir(parents=True, exist_ok=True)
        tmp_dir.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def open(self, sha256: str) -> BinaryIO:
        return self.path(sha256).open("rb")

    def local_path(self, sha256: str) -> Path | None:
        return self.path(sha256)

    def adopt(self, tmp: Path, sha256: str) -> None:
        """Move a fully written temp file into place, unless the same bytes are already stored."""
        target = self.path(sha256)
        try:
            os.utime(target)  # already stored: touch it, so the orphan sweep spares it
        except FileNotFoundError:  # not stored, or swept a moment ago: store these bytes
            target.parent.mkdir(parents=True, exist_ok=True)
            _move_into_place(tmp, target)
        else:
            tmp.unlink(missing_ok=True)

    def listing(self) -> Iterator[tuple[str, float]]:
        for first in _subdirs(self.root):
            for second in _subdirs(Path(first.path)):
                with os.scandir(second.path) as entries:
                    for entry in entries:
                        if entry.is_file() and len(entry.name) == 64:
                            yield entry.name, entry.stat().st_mtime

    def stored_at(self, sha256: str) -> float | None:
        try:
            return self.path(sha256).stat().st_mtime
        except FileNotFoundError:
            return None

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)


def _move_into_place(source: Path, target: Path) -> None:
    """Rename `source` to `target` atomically. When they are on different filesystems (the
    originals on a shared volume, the upload temp dir in the data dir), copy into a temp file
    beside the target first, so readers never see a partly written original."""
    try:
        os.replace(source, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".adopt-")
    staged = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staged, target)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    source.unlink(missing_ok=True)


def _subdirs(path: Path) -> list[os.DirEntry[str]]:
    with os.scandir(path) as entries:
        return sorted((e for e in entries if e.is_dir() and len(e.name) == 2),
                      key=lambda e: e.name)
