"""The walker hands out files as it finds them: 500,000 files are never a list in memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from docflow.client import walk as walk_module
from docflow.client.walk import Counter, FileFilter, take, walk_files
from tests.client.conftest import make_tree


def test_the_first_file_comes_before_the_folder_is_read_to_the_end(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(2000):
        (flat / f"{i}.txt").write_bytes(b"x")
    seen = 0
    real_scandir = os.scandir

    class CountingScandir:
        def __init__(self, path: str) -> None:
            self._it = real_scandir(path)

        def __enter__(self) -> CountingScandir:
            return self

        def __exit__(self, *exc: object) -> None:
            self._it.close()

        def __iter__(self) -> CountingScandir:
            return self

        def __next__(self) -> os.DirEntry[str]:
            nonlocal seen
            entry = next(self._it)
            seen += 1
            return entry

    monkeypatch.setattr(walk_module.os, "scandir", CountingScandir)
    files = walk_files(flat)
    first = take(files, 10)
    assert len(first) == 10 and seen == 10
    assert len(take(files, 5000)) == 1990 and seen == 2000


def test_every_file_once_with_paths_relative_to_the_folder(tmp_path: Path) -> None:
    made = make_tree(tmp_path / "corpus", 60, per_dir=7)
    found = list(walk_files(tmp_path / "corpus"))
    assert sorted(f.rel for f in found) == sorted(
        p.relative_to(tmp_path / "corpus").as_posix() for p in made)
    one = next(f for f in found if f.rel == "d000/file00000.txt")
    assert one.size == made[0].stat().st_size and one.mtime_ns == made[0].stat().st_mtime_ns
    assert Path(one.path) == made[0].resolve()


def test_globs_choose_files_and_prune_folders(tmp_path: Path) -> None:
    root = tmp_path / "r"
    for rel in ("a.pdf", "b.txt", "docs/c.pdf", "docs/tmp/d.pdf", ".git/e.pdf", "tmp/f.pdf"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")

    def rels(flt: FileFilter) -> list[str]:
        return sorted(f.rel for f in walk_files(root, flt))

    assert rels(FileFilter(include=("*.pdf",), exclude=(".git", "tmp/*"))) == [
        "a.pdf", "docs/c.pdf", "docs/tmp/d.pdf"]
    assert rels(FileFilter(exclude=("tmp",))) == [".git/e.pdf", "a.pdf", "b.txt", "docs/c.pdf"]
    assert rels(FileFilter(include=("docs/*",))) == ["docs/c.pdf", "docs/tmp/d.pdf"]
    skip = frozenset({str((root / "b.txt").resolve())})
    assert "b.txt" not in rels(FileFilter(skip_paths=skip))


def test_symlinked_folders_are_not_followed_and_unreadable_ones_are_reported(
        tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.txt").write_bytes(b"a")
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "link.txt").symlink_to(root / "real" / "a.txt")
    locked = root / "locked"
    locked.mkdir()
    (locked / "secret.txt").write_bytes(b"s")
    locked.chmod(0)
    errors: list[str] = []
    try:
        found = sorted(f.rel for f in walk_files(root, on_error=lambda rel, _exc:
                                                 errors.append(rel)))
    finally:
        locked.chmod(0o755)
    if os.geteuid() == 0:  # root reads any folder
        assert found == ["link.txt", "locked/secret.txt", "real/a.txt"]
    else:
        assert found == ["link.txt", "real/a.txt"] and errors == ["locked"]


def test_the_counter_totals_files_and_bytes_in_the_background(tmp_path: Path) -> None:
    made = make_tree(tmp_path / "corpus", 50, size=100)
    counter = Counter(tmp_path / "corpus", FileFilter()).start()
    counter._thread.join(10)
    assert counter.count.done and counter.count.files == 50
    assert counter.count.bytes == sum(p.stat().st_size for p in made)
