"""Reading time grows with the file, never with its square: hostile shapes found by probing
each reader from 1 KB to 8 MB (bench/fuzz.py saw the RTF reader crawl on some inputs).

Where the work is countable it is counted (parts read, member lists scanned, copies of a slide
in the text). Where it happens inside a C loop (a regular expression, olefile's list lookups)
nothing can count it, so the test compares the CPU time of one input and of one `_FACTOR`
times larger, per byte, in the same run: linear code stays near 1, quadratic code near
`_FACTOR`. CPU time of this thread, the least of three tries: other processes on a busy machine
do not count in it.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable, Sized

import pytest

from docflow.pipeline import Limits, detect, extract
from docflow.pipeline.extract import clean_text, legacy_doc
from docflow.pipeline.extract import ooxml as ooxml_module
from docflow.pipeline.extract.html import html_to_text
from docflow.pipeline.ole2 import ole2_kind
from tests.fixtures_office import make_epub
from tests.fixtures_ole2 import make_wide_compound_file

LIMITS = Limits()
_FACTOR = 8
_LINEAR = 3.0  # per-byte cost may grow this much from n to 8n; quadratic code grows ~8x


def per_byte_growth(read: Callable, make: Callable[[int], Sized], n: int) -> float:
    """CPU time per input byte (or item) at `_FACTOR` * n over that at n."""
    small, large = make(n), make(n * _FACTOR)
    best = {len(small): float("inf"), len(large): float("inf")}
    for _ in range(3):
        for data in (small, large):
            started = time.thread_time()
            read(data)
            best[len(data)] = min(best[len(data)], time.thread_time() - started)
    cost = {size: seconds / size for size, seconds in best.items()}
    return cost[len(large)] / max(cost[len(small)], 1e-12)


def read_as(name: str) -> Callable[[bytes], object]:
    return lambda data: extract(data, detect(data, name, LIMITS), LIMITS)


# --- inside regular expressions and C loops: CPU time per byte ------------------------------


@pytest.mark.parametrize(
    ("story", "read", "make", "n"),
    [
        ("trailing spaces of every reader's text", clean_text,
         lambda n: "word" + " \t" * n + "word\n", 4_000),
        ("an RTF table row of empty cells", read_as("cells.rtf"),
         lambda n: b"{\\rtf1\\ansi A" + b"\\cell " * n + b"B\\row}", 4_000),
        ("an HTML <pre> of spaces", lambda text: html_to_text(text.decode()),
         lambda n: b"<pre>a" + b" " * n + b"b</pre>", 8_000),
        ("an EPUB whose encryption.xml never closes a tag",
         lambda data: detect(data, "book.epub", LIMITS),
         lambda n: make_epub([("One", "Text")], "<e " + "EncryptionMethod " * (n // 17)),
         64_000),
        ("Word 97 fields each opened and separated", legacy_doc._clean,
         lambda n: "\x13\x14" * (n // 2) + "text", 8_000),
        ("Word 97 header bounds that jump back and forth", lambda bounds: _stories_of(bounds),
         lambda n: [0, n] * (n // 2), 4_000),
        ("an OLE2 file listing thousands of streams", ole2_kind,
         lambda n: make_wide_compound_file(n // 128), 256_000),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_reading_time_grows_in_step_with_the_file(
    story: str, read: Callable, make: Callable, n: int
) -> None:
    growth = per_byte_growth(read, make, n)
    assert growth < _LINEAR, f"{story}: per-byte cost grew {growth:.1f}x from n to {_FACTOR}n"


def _stories_of(bounds: list[int]) -> str:
    """The stories of a Word file whose header text is as long as its largest bound."""
    length = max(bounds)
    return legacy_doc._stories("h" * length, (0, 0, length, 0, 0, 0, 0, 0), bounds)


# --- counted: parts read, lists scanned, copies in the text ---------------------------------

_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_W = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
      'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
      'xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart"')
_P = ('xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" '
      'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
      'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')


def _package(members: dict[str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _rels(*links: tuple[str, str, str]) -> str:
    body = "".join(f'<Relationship Id="{rid}" Type="{_REL}{kind}" Target="{target}"/>'
                   for rid, kind, target in links)
    return ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            f'relationships">{body}</Relationships>')


def _docx(body: str, links: list[tuple[str, str, str]], extra: dict[str, str | bytes]) -> bytes:
    return _package({
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats'
            '-officedocument.wordprocessingml.document.main+xml"/></Types>'),
        "_rels/.rels": _rels(("rId1", "officeDocument", "word/document.xml")),
        "word/document.xml": f"<w:document {_W}><w:body>{body}</w:body></w:document>",
        "word/_rels/document.xml.rels": _rels(*links),
        **extra,
    })


def test_a_header_named_by_thousands_of_sections_is_read_once(monkeypatch) -> None:
    references = '<w:headerReference r:id="rH"/>' * 3_000
    header = f"<w:hdr {_W}><w:p><w:r><w:t>Letterhead</w:t></w:r></w:p></w:hdr>"
    data = _docx(f"<w:p><w:r><w:t>Body</w:t></w:r></w:p><w:sectPr>{references}</w:sectPr>",
                 [("rH", "header", "header1.xml")], {"word/header1.xml": header})
    reads: list[str] = []
    real_read = ooxml_module.read_member

    def counted(archive, member, *args):  # noqa: ANN001, ANN202
        reads.append(member.filename)
        return real_read(archive, member, *args)

    monkeypatch.setattr(ooxml_module, "read_member", counted)
    assert read_as("letter.docx")(data).text == "Letterhead\nBody"
    assert reads.count("word/header1.xml") == 1


def test_links_to_missing_parts_do_not_scan_the_package_once_each(monkeypatch) -> None:
    charts = "".join(f'<c:chart r:id="c{number}"/>' for number in range(2_000))
    data = _docx(f"<w:p><w:r><w:t>Body</w:t></w:r>{charts}</w:p>",
                 [(f"c{number}", "chart", f"charts/chart{number}.xml") for number in range(2_000)],
                 {f"media/{number}.bin": b"" for number in range(2_000)})
    scans = 0
    real_infolist = zipfile.ZipFile.infolist

    def counted(self):  # noqa: ANN001, ANN202
        nonlocal scans
        scans += 1
        return real_infolist(self)

    monkeypatch.setattr(zipfile.ZipFile, "infolist", counted)
    assert read_as("charts.docx")(data).text == "Body"
    assert scans <= 5  # opening, detection, embedded objects: never one per missing chart


def test_a_deck_listing_one_slide_thousands_of_times_reads_it_once() -> None:
    listed = "".join(f'<p:sldId id="{256 + number}" r:id="rS"/>' for number in range(2_000))
    shape = "<p:sp><p:txBody><a:p><a:r><a:t>Quarterly plan</a:t></a:r></a:p></p:txBody></p:sp>"
    data = _package({
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxml'
            'formats-officedocument.presentationml.presentation.main+xml"/></Types>'),
        "_rels/.rels": _rels(("rId1", "officeDocument", "ppt/presentation.xml")),
        "ppt/presentation.xml": f"<p:presentation {_P}><p:sldIdLst>{listed}</p:sldIdLst>"
                                "</p:presentation>",
        "ppt/_rels/presentation.xml.rels": _rels(("rS", "slide", "slides/slide1.xml")),
        "ppt/slides/slide1.xml": f"<p:sld {_P}><p:cSld><p:spTree>{shape}</p:spTree></p:cSld>"
                                 "</p:sld>",
    })
    assert read_as("deck.pptx")(data).text.count("Quarterly plan") == 1
