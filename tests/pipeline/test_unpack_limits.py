"""The decompression-bomb guard refuses bombs, not ordinary files that compress well.

A slide of repeated shapes or a log of repeated lines compresses several hundred to one at a
few MB; only what inflates past safe_zip.RATIO_FLOOR is judged by its ratio, and everything is
judged by the absolute budget (Limits.max_unpacked_bytes).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib

import pytest

from docflow.pipeline import Limits, detect
from docflow.pipeline.errors import DecompressionBomb, DocumentTooLarge
from docflow.pipeline.extract import extract
from docflow.pipeline.extract.safe_zip import RATIO_FLOOR
from tests.fixtures import make_docx
from tests.fixtures_office import make_epub, make_odf, make_pptx, make_xlsx, make_zip, rewrite_zip

LIMITS = Limits()
# 1.3 MB of repeated shape XML: deflate packs it more than 300 to one, like real slide layouts.
SHAPES = b"<p:sp><p:nvSpPr><p:cNvPr id='1' name='Shape'/></p:nvSpPr></p:sp>" * 20_000
LOG = b"2024-03-01 12:00:00 INFO heartbeat ok\n" * 60_000  # 2.3 MB, ~400:1 in gzip


def _read(data: bytes, name: str, limits: Limits = LIMITS):
    return extract(data, detect(data, name, limits), limits)


def test_the_samples_really_compress_past_the_ratio_limit() -> None:
    for sample in (SHAPES, LOG):
        assert len(sample) > 1024 * 1024
        assert len(sample) > LIMITS.max_expansion_ratio * len(zlib.compress(sample, 9))


def test_a_presentation_with_a_highly_compressible_part_is_read() -> None:
    deck = rewrite_zip(make_pptx([("Quarterly review", "Revenue grew", "")]),
                       {"ppt/media/pattern.xml": SHAPES})
    assert "Quarterly review" in _read(deck, "deck.pptx").text


@pytest.mark.parametrize(
    ("package", "name", "part"),
    [
        (make_docx(["Dear customer"]), "letter.docx", "word/media/pattern.xml"),
        (make_xlsx({"Sheet1": [["Dear customer"]]}), "book.xlsx", "xl/media/pattern.xml"),
        (make_odf("odt", "<office:text><text:p>Dear customer</text:p></office:text>"),
         "letter.odt", "Pictures/pattern.svg"),
        (make_epub([("One", "<p>Dear customer</p>")]), "book.epub", "OEBPS/pattern.svg"),
    ],
)
def test_packages_with_a_highly_compressible_part_are_read(
    package: bytes, name: str, part: str
) -> None:
    assert "Dear customer" in _read(rewrite_zip(package, {part: SHAPES}), name).text


def test_an_archive_holding_a_repetitive_log_gives_the_log() -> None:
    children = _read(make_zip({"server.log": LOG}), "logs.zip").children
    assert [child.data for child in children] == [LOG]


@pytest.mark.parametrize(
    ("compress", "name"),
    [(gzip.compress, "server.log.gz"), (bz2.compress, "server.log.bz2"),
     (lzma.compress, "server.log.xz")],
)
def test_a_compressed_repetitive_log_is_unpacked(compress, name: str) -> None:
    assert _read(compress(LOG), name).children[0].data == LOG


def test_a_member_past_the_floor_with_a_bomb_ratio_is_still_refused() -> None:
    bomb = make_zip({"zeros.bin": b"\x00" * (RATIO_FLOOR + 1024 * 1024)})
    with pytest.raises(DecompressionBomb):
        _read(bomb, "bomb.zip")
    with pytest.raises(DecompressionBomb):
        _read(gzip.compress(b"\x00" * (RATIO_FLOOR + 1024 * 1024)), "bomb.gz")


def test_the_absolute_budget_bounds_members_below_the_floor() -> None:
    small = Limits(max_unpacked_bytes=1024 * 1024)
    with pytest.raises((DecompressionBomb, DocumentTooLarge)):
        _read(make_zip({"server.log": LOG}), "logs.zip", small)
    with pytest.raises((DecompressionBomb, DocumentTooLarge)):
        _read(gzip.compress(LOG), "server.log.gz", small)


def test_archives_nested_behind_a_stub_count_against_the_same_depth_and_budget() -> None:
    # Detection reads a ZIP behind a self-extractor's stub, so the nested walk must see it too.
    data = b"the bottom"
    for level in range(5):
        data = b"MZ stub\x00" + make_zip({f"level{level}.exe": data})
    with pytest.raises(DecompressionBomb, match="nests archives"):
        _read(data, "deep.exe", Limits(max_archive_depth=3))
