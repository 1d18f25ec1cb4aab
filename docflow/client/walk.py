"""Walking a folder lazily: files come out one by one as `os.scandir` finds them, so a folder
of 500,000 files is never listed into memory (only one folder's subfolder names are held)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path


@dataclass(frozen=True)
class LocalFile:
    path: str  # absolute
    rel: str  # relative to the folder, with "/" separators
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class FileFilter:
    """--include / --exclude globs, matched against the relative path and against the name."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    skip_paths: frozenset[str] = field(default_factory=frozenset)  # e.g. our own checkpoint

    def _excluded(self, rel: str, name: str) -> bool:
        return any(fnmatchcase(rel, p) or fnmatchcase(name, p) for p in self.exclude)

    def wants_dir(self, rel: str, name: str) -> bool:
        # "tmp/*" prunes the folder tmp too: "*" matches the empty rest of "tmp/".
        return not (self._excluded(rel, name) or self._excluded(rel + "/", name))

    def wants_file(self, path: str, rel: str, name: str) -> bool:
        if path in self.skip_paths or self._excluded(rel, name):
            return False
        return not self.include or any(fnmatchcase(rel, p) or fnmatchcase(name, p)
                                       for p in self.include)


WalkErrorHandler = Callable[[str, OSError], None]


def walk_files(root: Path, flt: FileFilter | None = None,
               on_error: WalkErrorHandler | None = None) -> Iterator[LocalFile]:
    """Every regular file under `root` (symlinked files followed, symlinked folders not)."""
    flt = flt or FileFilter()
    stack: list[tuple[str, str]] = [(str(root.resolve()), "")]
    while stack:
        directory, prefix = stack.pop()
        subdirs: list[tuple[str, str]] = []
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    rel = prefix + entry.name
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if flt.wants_dir(rel, entry.name):
                                subdirs.append((entry.path, rel + "/"))
                            continue
                        if not entry.is_file() or not flt.wants_file(entry.path, rel,
                                                                     entry.name):
                            continue
                        st = entry.stat()
                    except OSError as exc:
                        if on_error is not None:
                            on_error(rel, exc)
                        continue
                    yield LocalFile(entry.path, rel, st.st_size, st.st_mtime_ns)
        except OSError as exc:
            if on_error is not None:
                on_error(prefix.rstrip("/") or ".", exc)
        # Sorted, reversed onto the stack: folders are visited in name order, depth first.
        stack.extend(sorted(subdirs, reverse=True))


def take(files: Iterator[LocalFile], n: int) -> list[LocalFile]:
    """The next `n` files (fewer at the end): the uploader pulls the walk in small chunks."""
    out: list[LocalFile] = []
    for f in files:
        out.append(f)
        if len(out) >= n:
            break
    return out


@dataclass
class FileCount:
    files: int = 0
    bytes: int = 0
    done: bool = False


class Counter:
    """Counts the files to upload in a background thread, so the progress bar has a total
    (and an ETA) soon, while uploading has already started."""

    def __init__(self, root: Path, flt: FileFilter,
                 on_update: Callable[[FileCount], None] | None = None) -> None:
        self.count = FileCount()
        self._root, self._flt, self._on_update = root, flt, on_update
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="file-counter", daemon=True)

    def start(self) -> Counter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        for f in walk_files(self._root, self._flt):
            if self._stop.is_set():
                return
            self.count.files += 1
            self.count.bytes += f.size
            if self._on_update is not None and self.count.files % 2000 == 0:
                self._on_update(self.count)
        self.count.done = True
        if self._on_update is not None:
            self._on_update(self.count)
