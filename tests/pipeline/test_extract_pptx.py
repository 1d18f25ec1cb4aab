"""PowerPoint: every slide's shapes, tables, charts, SmartArt and notes, each read once."""

from __future__ import annotations

import copy
import io
import zipfile

import pptx
from pptx.chart.data import CategoryChartData
from pptx.enum.chart import XL_CHART_TYPE
from pptx.util import Inches

from docflow.pipeline import Limits, detect, extract, process_document
from tests.fixtures_office import rewrite_zip

LIMITS = Limits()
_P = "http://schemas.openxmlformats.org/presentationml/2006/main"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_DGM = "http://schemas.openxmlformats.org/drawingml/2006/diagram"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def read(data: bytes) -> str:
    return extract(data, detect(data, "deck.pptx", LIMITS), LIMITS).text


def _save(presentation: pptx.presentation.Presentation) -> bytes:
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def _deck() -> bytes:
    """One slide: title, a chart, a table, a grouped text box and speaker notes."""
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    slide.shapes.title.text = "Quarterly review"
    data = CategoryChartData()
    data.categories = ["East", "West"]
    data.add_series("Revenue", (11.5, 22))
    frame = slide.shapes.add_chart(
        XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(1), Inches(4), Inches(3), data
    )
    frame.chart.has_title = True
    frame.chart.chart_title.text_frame.text = "Sales by region"
    table = slide.shapes.add_table(2, 2, Inches(1), Inches(4), Inches(4), Inches(1)).table
    table.cell(0, 0).text = "Region"
    table.cell(0, 1).text = "Target"
    table.cell(1, 0).text = "North"
    table.cell(1, 1).text = "42"
    group = slide.shapes.add_group_shape()
    inner = group.shapes.add_group_shape()
    inner.shapes.add_textbox(0, 0, 100, 100).text_frame.text = "Deeply grouped words"
    slide.notes_slide.notes_text_frame.text = "Say thanks to the team"
    return _save(presentation)


def test_slide_text_tables_charts_groups_and_notes_in_order() -> None:
    assert read(_deck()).split("\n") == [
        "Quarterly review",
        "Sales by region",  # the chart: title, series name, categories, values
        "Revenue",
        "East\tWest",
        "11.5\t22",
        "Region\tTarget",
        "North\t42",
        "Deeply grouped words",
        "Say thanks to the team",  # the speaker notes, after the slide
    ]


def test_slides_come_in_presentation_order_not_part_name_order() -> None:
    presentation = pptx.Presentation()
    for title in ("First slide", "Second slide"):
        presentation.slides.add_slide(presentation.slide_layouts[5]).shapes.title.text = title
    slide_ids = presentation.slides._sldIdLst
    slide_ids.insert(0, slide_ids[1])  # move the second slide to the front
    text = read(_save(presentation))
    assert text.index("Second slide") < text.index("First slide")


def test_smartart_nodes_are_read_from_the_diagram_data_part() -> None:
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[6])
    slide.shapes.add_textbox(0, 0, 100, 100).text_frame.text = "Before diagram"
    package = _save(presentation)
    frame = (
        f'<p:graphicFrame xmlns:p="{_P}" xmlns:a="{_A}" xmlns:r="{_R}"><p:nvGraphicFramePr>'
        '<p:cNvPr id="9" name="Diagram"/><p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr>'
        '<p:xfrm/><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/'
        f'2006/diagram"><dgm:relIds xmlns:dgm="{_DGM}" r:dm="rId90" r:lo="rId91" r:qs="rId92" '
        'r:cs="rId93"/></a:graphicData></a:graphic></p:graphicFrame>'
    )
    data = (
        f'<dgm:dataModel xmlns:dgm="{_DGM}" xmlns:a="{_A}"><dgm:ptLst>'
        '<dgm:pt modelId="0" type="doc"><dgm:t><a:bodyPr/><a:p><a:r><a:t>Plan</a:t></a:r></a:p>'
        '</dgm:t></dgm:pt><dgm:pt modelId="1"><dgm:t><a:bodyPr/><a:p><a:r><a:t>Build the '
        "prototype</a:t></a:r></a:p></dgm:t></dgm:pt></dgm:ptLst></dgm:dataModel>"
    )
    archive = zipfile.ZipFile(io.BytesIO(package))
    slide_xml = archive.read("ppt/slides/slide1.xml").decode()
    rels = archive.read("ppt/slides/_rels/slide1.xml.rels").decode()
    rel = (
        '<Relationship Id="rId90" Type="http://schemas.microsoft.com/office/2007/relationships/'
        'diagramData" Target="../diagrams/data1.xml"/>'
    )
    package = rewrite_zip(
        package,
        {
            "ppt/slides/slide1.xml": slide_xml.replace("</p:spTree>", frame + "</p:spTree>")
            .encode(),
            "ppt/slides/_rels/slide1.xml.rels": rels.replace(
                "</Relationships>", rel + "</Relationships>"
            ).encode(),
            "ppt/diagrams/data1.xml": data.encode(),
        },
    )
    assert read(package).split("\n") == ["Before diagram", "Plan", "Build the prototype"]


def test_alternate_content_is_read_once() -> None:
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[6])
    slide.shapes.add_textbox(0, 0, 100, 100).text_frame.text = "Shape with fallback"
    package = _save(presentation)
    slide_xml = zipfile.ZipFile(io.BytesIO(package)).read("ppt/slides/slide1.xml").decode()
    start = slide_xml.index("<p:sp>")
    end = slide_xml.index("</p:sp>") + len("</p:sp>")
    shape = slide_xml[start:end]
    wrapped = (
        f'<mc:AlternateContent xmlns:mc="{_MC}"><mc:Choice Requires="p14">{shape}</mc:Choice>'
        f"<mc:Fallback>{shape}</mc:Fallback></mc:AlternateContent>"
    )
    package = rewrite_zip(
        package, {"ppt/slides/slide1.xml": (slide_xml[:start] + wrapped + slide_xml[end:]).encode()}
    )
    assert read(package) == "Shape with fallback"


def test_layout_prompts_are_left_out_but_layout_text_comes_once() -> None:
    presentation = pptx.Presentation()
    layout = presentation.slide_layouts[6]  # "Blank": no placeholders on the slides
    scratch = pptx.Presentation()
    box = scratch.slides.add_slide(scratch.slide_layouts[6]).shapes.add_textbox(0, 0, 100, 100)
    box.text_frame.text = "Acme Corp confidential"
    layout.shapes._spTree.append(copy.deepcopy(box._element))  # python-pptx cannot add it
    for number in (1, 2):
        slide = presentation.slides.add_slide(layout)
        slide.shapes.add_textbox(0, 0, 100, 100).text_frame.text = f"Slide body {number}"
    text = read(_save(presentation))
    assert text.count("Acme Corp confidential") == 1
    assert text.index("Slide body 2") < text.index("Acme Corp confidential")
    assert "Click to edit" not in text


def test_the_slide_number_placeholder_is_not_text() -> None:
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[6])
    slide.shapes.add_textbox(0, 0, 100, 100).text_frame.text = "Only words"
    package = _save(presentation)
    slide_xml = zipfile.ZipFile(io.BytesIO(package)).read("ppt/slides/slide1.xml").decode()
    number = (
        '<p:sp><p:nvSpPr><p:cNvPr id="7" name="Slide Number"/><p:cNvSpPr/><p:nvPr>'
        '<p:ph type="sldNum" idx="12"/></p:nvPr></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/>'
        '<a:p><a:fld id="{1}" type="slidenum"><a:t>17</a:t></a:fld></a:p></p:txBody></p:sp>'
    )
    package = rewrite_zip(
        package,
        {"ppt/slides/slide1.xml": slide_xml.replace("</p:spTree>", number + "</p:spTree>")
         .encode()},
    )
    assert read(package) == "Only words"


def test_classic_and_modern_slide_comments_follow_the_notes() -> None:
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[6])
    slide.shapes.add_textbox(0, 0, 100, 100).text_frame.text = "Slide words"
    slide.notes_slide.notes_text_frame.text = "Speaker notes"
    package = _save(presentation)
    classic = (
        f'<p:cmLst xmlns:p="{_P}"><p:cm authorId="0" idx="1"><p:pos x="10" y="10"/>'
        "<p:text>Check the figures</p:text></p:cm></p:cmLst>"
    )
    modern_ns = "http://schemas.microsoft.com/office/powerpoint/2018/8/main"
    modern = (
        f'<p188:cmLst xmlns:p188="{modern_ns}" xmlns:a="{_A}"><p188:cm id="{{1}}">'
        "<p188:replyLst><p188:reply><p188:txBody><a:p><a:r><a:t>Done</a:t></a:r></a:p>"
        "</p188:txBody></p188:reply></p188:replyLst><p188:txBody><a:p><a:r>"
        "<a:t>Is this current?</a:t></a:r></a:p></p188:txBody></p188:cm></p188:cmLst>"
    )
    rels = zipfile.ZipFile(io.BytesIO(package)).read("ppt/slides/_rels/slide1.xml.rels").decode()
    links = (
        '<Relationship Id="rId80" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/comments" Target="../comments/comment1.xml"/>'
        '<Relationship Id="rId81" Type="http://schemas.microsoft.com/office/2018/10/'
        'relationships/comments" Target="../comments/modernComment_1.xml"/>'
    )
    package = rewrite_zip(
        package,
        {
            "ppt/slides/_rels/slide1.xml.rels": rels.replace(
                "</Relationships>", links + "</Relationships>"
            ).encode(),
            "ppt/comments/comment1.xml": classic.encode(),
            "ppt/comments/modernComment_1.xml": modern.encode(),
        },
    )
    assert read(package).split("\n") == [
        "Slide words",
        "Speaker notes",
        "Comment: Check the figures",
        "Comment: Is this current? Done",
    ]


def test_a_damaged_slide_is_skipped_and_named_while_the_others_are_read() -> None:
    presentation = pptx.Presentation()
    for title in ("Good slide", "Damaged slide", "Last slide"):
        presentation.slides.add_slide(presentation.slide_layouts[5]).shapes.title.text = title
    package = rewrite_zip(_save(presentation), {"ppt/slides/slide2.xml": b"<p:sld><broken"})
    result = process_document(package, "deck.pptx", LIMITS)
    assert result.extracted.text.split() == ["Good", "slide", "Last", "slide"]
    assert [w.code for w in result.warnings] == ["partial"]
    assert "slide 2 'ppt/slides/slide2.xml' is damaged" in result.warnings[0].message
