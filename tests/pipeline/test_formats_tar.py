"""TAR archives and gzip/bzip2/xz files: each file inside becomes a child; bombs, deep nesting,
links and damage fail or are skipped with a reason."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import tarfile

import pytest

from docflow.pipeline import EmptyDocument, Limits, detect, extract, process_document
from docflow.pipeline.errors import CorruptDocument, DecompressionBomb, DocumentTooLarge
from tests.fixtures import make_pdf
from tests.fixtures_office import make_zip

LIMITS = Limits()


def make_tar(files: dict[str, bytes], mode: str = "w", links: dict[str, str] | None = None,
             ) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            archive.addfile(info)
    return buf.getvalue()


def read(data: bytes, filename: str, limits: Limits = LIMITS):
    return extract(data, detect(data, filename, limits), limits)


@pytest.mark.parametrize("mode, fmt", [("w", "tar"), ("w:gz", "gzip"), ("w:bz2", "bzip2"),
                                       ("w:xz", "xz")])
def test_each_file_of_a_tar_becomes_a_child_with_a_safe_path(mode: str, fmt: str) -> None:
    pdf = make_pdf(["Quarterly report"])
    archive = make_tar({"reports/q1.pdf": pdf, "../../etc/notes.txt": b"Dear Ann, hello.",
                        "/abs/path/data.csv": b"a,b\n1,2\n"}, mode,
                       links={"reports/evil": "/etc/passwd"})
    detected = detect(archive, "whatever.bin", LIMITS)  # the content decides, not the name
    assert detected.format == fmt
    extracted = extract(archive, detected, LIMITS)
    assert [(c.filename, c.path) for c in extracted.children] == [
        ("q1.pdf", "reports/q1.pdf"), ("notes.txt", "etc/notes.txt"),
        ("data.csv", "abs/path/data.csv")]
    assert extracted.children[0].data == pdf
    assert any("'evil'" in w and "link" in w for w in extracted.warnings)
    assert "3 files" in extracted.text.split("\n")[0]


@pytest.mark.parametrize("compress, fmt", [(gzip.compress, "gzip"), (bz2.compress, "bzip2"),
                                           (lzma.compress, "xz")])
def test_a_compressed_file_gives_one_child(compress, fmt: str) -> None:
    body = b"Invoice number 42. Total due: $10.00\n" * 50
    extracted = read(compress(body), "invoice.txt.x")
    assert [c.data for c in extracted.children] == [body]


def test_a_gzip_keeps_the_original_name_it_carries() -> None:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="minutes.txt", mode="wb", fileobj=buf) as f:
        f.write(b"Minutes of the board meeting")
    (child,) = read(buf.getvalue(), "minutes.txt.gz").children
    assert child.filename == "minutes.txt"


def test_concatenated_gzip_members_are_one_file() -> None:
    data = gzip.compress(b"first part, ") + gzip.compress(b"second part")
    (child,) = read(data, "parts.gz").children
    assert child.data == b"first part, second part"


def test_a_gzip_bomb_fails_before_it_fills_memory() -> None:
    bomb = gzip.compress(bytes(64 * 1024 * 1024), compresslevel=9)  # ~64 KB -> 64 MB
    with pytest.raises(DecompressionBomb, match="inflates more than 200 times"):
        read(bomb, "bomb.gz")
    with pytest.raises(DecompressionBomb) as failure:
        process_document(bomb, "bomb.tar.gz", LIMITS)
    assert failure.value.code == "decompression_bomb"


def test_unpacked_bytes_over_the_limit_are_too_large() -> None:
    body = random.Random(7).randbytes(2 * 1024 * 1024)  # 2 MiB that do not compress
    with pytest.raises(DocumentTooLarge, match="unpacks to more than"):
        read(gzip.compress(body), "big.gz", Limits(max_unpacked_bytes=1024 * 1024))


def test_a_sparse_member_claiming_terabytes_is_refused() -> None:
    header = tarfile.TarInfo("huge.bin")
    header.size = 10**12
    raw = header.tobuf(format=tarfile.GNU_FORMAT) + bytes(4096)  # the size lies; no data
    with pytest.raises((DecompressionBomb, DocumentTooLarge)):
        read(raw, "huge.tar")


def test_archives_nested_past_the_depth_limit_are_a_bomb() -> None:
    inner = b"Dear Ann, the innermost letter."
    for level in range(5):
        inner = make_tar({f"level{level}.tar.gz" if level else "letter.txt": inner}, "w:gz")
    with pytest.raises(DecompressionBomb, match="nests archives more than 3 deep"):
        read(inner, "russian-doll.tar.gz")


def test_a_zip_inside_a_tar_counts_toward_the_same_depth() -> None:
    inner = make_zip({"a.txt": b"deep"})
    for level in range(4):
        inner = make_tar({f"l{level}.zip": inner}) if level % 2 else make_zip({f"l{level}": inner})
    outer = make_tar({"nested.zip": inner}, "w:gz")
    with pytest.raises(DecompressionBomb):
        read(outer, "mixed.tar.gz")


@pytest.mark.parametrize("data, error", [
    (gzip.compress(b"Dear Ann, " * 1000)[:-30], CorruptDocument),
    (make_tar({}, "w:gz"), EmptyDocument),
    (gzip.compress(b""), EmptyDocument),
], ids=["gzip-cut-short", "empty-tar-gz", "empty-gzip"])  # the bytes hold a time: no ids of them
def test_damaged_or_empty_input_fails_with_its_reason(data: bytes, error: type) -> None:
    with pytest.raises(error):
        read(data, "broken.tar.gz")
