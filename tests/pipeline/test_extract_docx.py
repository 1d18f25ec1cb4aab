"""Word: charts, SmartArt and imported chunks (w:altChunk) are read where they stand, once."""

from __future__ import annotations

import io
import zipfile

import docx as python_docx

from docflow.pipeline import Limits, detect, extract, process_document
from tests.fixtures_office import rewrite_zip

LIMITS = Limits()
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_C = "http://schemas.openxmlformats.org/drawingml/2006/chart"
_DGM = "http://schemas.openxmlformats.org/drawingml/2006/diagram"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_MARK = "MARKER-PARAGRAPH"


def read(data: bytes) -> str:
    return extract(data, detect(data, "report.docx", LIMITS), LIMITS).text


def _docx_with(block: str, parts: dict[str, tuple[str, bytes]]) -> bytes:
    """A document "Before" / `block` / "After"; `parts` maps rId -> (relationship type, bytes)
    of parts added under word/ and linked from the body."""
    document = python_docx.Document()
    document.add_paragraph("Before")
    document.add_paragraph(_MARK)
    document.add_paragraph("After")
    out = io.BytesIO()
    document.save(out)
    package = out.getvalue()
    archive = zipfile.ZipFile(io.BytesIO(package))
    body = archive.read("word/document.xml").decode()
    start = body.index("<w:p>", body.index("Before"))
    end = body.index("</w:p>", body.index(_MARK)) + len("</w:p>")
    body = body[:start] + block + body[end:]
    rels = archive.read("word/_rels/document.xml.rels").decode()
    changes: dict[str, bytes | None] = {}
    for rid, (kind, data) in parts.items():
        name = f"extra/{rid}.bin"
        rels = rels.replace(
            "</Relationships>",
            f'<Relationship Id="{rid}" Type="{kind}" Target="{name}"/></Relationships>',
        )
        changes[f"word/{name}"] = data
    changes["word/document.xml"] = body.encode()
    changes["word/_rels/document.xml.rels"] = rels.encode()
    return rewrite_zip(package, changes)


def _anchored(graphic_data: str) -> str:
    return (
        f'<w:p xmlns:w="{_W}"><w:r><w:t>Figure anchor</w:t></w:r><w:r><w:drawing>'
        '<wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/'
        f'wordprocessingDrawing"><a:graphic xmlns:a="{_A}"><a:graphicData uri="x">'
        f"{graphic_data}</a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>"
    )


_CHART = (
    f'<c:chartSpace xmlns:c="{_C}" xmlns:a="{_A}"><c:chart><c:title><c:tx><c:rich><a:p>'
    "<a:r><a:t>Sales by region</a:t></a:r></a:p></c:rich></c:tx></c:title><c:plotArea>"
    "<c:barChart><c:ser><c:tx><c:strRef><c:f>Sheet1!$B$1</c:f><c:strCache><c:pt idx=\"0\">"
    "<c:v>Revenue</c:v></c:pt></c:strCache></c:strRef></c:tx><c:cat><c:strRef><c:strCache>"
    '<c:pt idx="1"><c:v>West</c:v></c:pt><c:pt idx="0"><c:v>East</c:v></c:pt></c:strCache>'
    '</c:strRef></c:cat><c:val><c:numRef><c:f>Sheet1!$B$2:$B$3</c:f><c:numCache><c:pt idx="0">'
    '<c:v>11.5</c:v></c:pt><c:pt idx="1"><c:v>22</c:v></c:pt></c:numCache></c:numRef></c:val>'
    "<c:extLst><c:ext><c:v>Hidden copy</c:v></c:ext></c:extLst></c:ser></c:barChart>"
    "</c:plotArea></c:chart></c:chartSpace>"
)


def test_a_chart_gives_title_series_categories_and_values_after_its_anchor() -> None:
    block = _anchored(f'<c:chart xmlns:c="{_C}" xmlns:r="{_R}" r:id="rId70"/>')
    package = _docx_with(block, {"rId70": (_REL + "chart", _CHART.encode())})
    assert read(package).split("\n") == [
        "Before", "Figure anchor", "Sales by region", "Revenue", "East\tWest", "11.5\t22", "After",
    ]


def test_smartart_nodes_come_from_the_diagram_data_part() -> None:
    data = (
        f'<dgm:dataModel xmlns:dgm="{_DGM}" xmlns:a="{_A}"><dgm:ptLst><dgm:pt modelId="1">'
        "<dgm:t><a:p><a:r><a:t>Plan</a:t></a:r></a:p></dgm:t></dgm:pt><dgm:pt modelId=\"2\">"
        "<dgm:t><a:p><a:r><a:t>Ship it</a:t></a:r></a:p></dgm:t></dgm:pt></dgm:ptLst>"
        "</dgm:dataModel>"
    )
    block = _anchored(f'<dgm:relIds xmlns:dgm="{_DGM}" xmlns:r="{_R}" r:dm="rId71"/>')
    package = _docx_with(block, {"rId71": (_REL + "diagramData", data.encode())})
    assert read(package).split("\n") == ["Before", "Figure anchor", "Plan", "Ship it", "After"]


def _chunk(data: bytes) -> bytes:
    block = f'<w:altChunk xmlns:w="{_W}" xmlns:r="{_R}" r:id="rId72"/>'
    return _docx_with(block, {"rId72": (_REL + "aFChunk", data)})


def test_an_html_chunk_is_read_where_it_stands() -> None:
    html = b"<html><body><h1>Imported</h1><p>From a web page</p></body></html>"
    assert read(_chunk(html)).split("\n") == ["Before", "Imported", "From a web page", "After"]


def test_an_mht_chunk_gives_its_html_page() -> None:
    mht = (
        b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"b\"\r\n\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"<html><body><p>Caf=C3=A9 archive</p></body></html>\r\n--b--\r\n"
    )
    assert read(_chunk(mht)).split("\n") == ["Before", "Café archive", "After"]


def test_an_rtf_chunk_is_read_by_the_rtf_reader() -> None:
    rtf = rb"{\rtf1\ansi{\fonttbl{\f0 Arial;}}\f0 Imported from RTF\par}"
    assert read(_chunk(rtf)).split("\n") == ["Before", "Imported from RTF", "After"]


def test_a_nested_word_document_is_read_whole() -> None:
    inner = python_docx.Document()
    inner.add_paragraph("Inner body")
    inner.sections[0].footer.paragraphs[0].text = "Inner footer"
    out = io.BytesIO()
    inner.save(out)
    assert read(_chunk(out.getvalue())).split("\n") == [
        "Before", "Inner body", "Inner footer", "After",
    ]


def test_chunks_nested_without_end_stop_at_a_depth() -> None:
    data = b"<p>Deepest</p>"
    for _ in range(6):
        data = _chunk(data)
    text = read(data)
    assert "Deepest" not in text and text.count("Before") == 4


def test_a_text_box_with_a_fallback_copy_is_read_once() -> None:
    box = (
        f'<w:txbxContent xmlns:w="{_W}"><w:p><w:r><w:t>Boxed remark</w:t></w:r></w:p>'
        "</w:txbxContent>"
    )
    block = (
        f'<w:p xmlns:w="{_W}" xmlns:mc="{_MC}"><w:r><w:t>Shape anchor</w:t></w:r><w:r>'
        f'<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing>{box}</w:drawing>'
        f"</mc:Choice><mc:Fallback><w:pict>{box}</w:pict></mc:Fallback></mc:AlternateContent>"
        "</w:r></w:p>"
    )
    assert read(_docx_with(block, {})).split("\n") == [
        "Before", "Shape anchor", "Boxed remark", "After",
    ]


def test_a_chart_linked_many_times_is_read_once() -> None:
    reference = f'<c:chart xmlns:c="{_C}" xmlns:r="{_R}" r:id="rId70"/>'
    package = _docx_with(_anchored(reference * 500), {"rId70": (_REL + "chart", _CHART.encode())})
    assert read(package).count("Sales by region") == 1


def test_a_damaged_chart_is_skipped_with_a_partial_warning_not_silently() -> None:
    block = _anchored(f'<c:chart xmlns:c="{_C}" xmlns:r="{_R}" r:id="rId70"/>')
    package = _docx_with(block, {"rId70": (_REL + "chart", b"<c:chartSpace><unclosed>")})
    result = process_document(package, "report.docx", LIMITS)
    assert result.extracted.text.split("\n") == ["Before", "Figure anchor", "After"]
    assert any("extra/rId70.bin" in part for part in result.extracted.skipped)
    assert [w.code for w in result.warnings] == ["partial"]
    assert "'word/extra/rId70.bin' is damaged" in result.warnings[0].message
