"""Every office, e-book and text format gives the text a person sees in it, in reading order."""

from __future__ import annotations

import io
import time
import zipfile

import docx as python_docx
import pytest

from docflow.pipeline import Limits, detect, extract, process_document
from tests.fixtures import make_docx
from tests.fixtures_office import (
    make_epub,
    make_full_docx,
    make_odf,
    make_pptx,
    make_rtf,
    make_xlsx,
    rewrite_zip,
)

LIMITS = Limits()


def read(data: bytes, filename: str) -> str:
    return extract(data, detect(data, filename, LIMITS), LIMITS).text


# --- Word ------------------------------------------------------------------------------------


def test_a_docx_gives_every_story_a_reader_sees_in_order() -> None:
    assert read(make_full_docx(), "report.docx").split("\n") == [
        "Letterhead Ltd",
        "Intro paragraph",
        "Revenue grew 12%",
        "Shape anchor",
        "Boxed remark",  # the text box, right after the paragraph that anchors it
        "Region\tSales",
        "North\t42",
        "",  # python-docx ends the body with an empty paragraph
        "Source: annual report",  # footnotes
        "Comment (Rita): Check this figure",
        "Page footer",
    ]


def test_every_section_of_a_docx_contributes_its_own_header_once() -> None:
    document = python_docx.Document()
    document.sections[0].header.paragraphs[0].text = "Part one header"
    document.add_paragraph("First part")
    second = document.add_section()
    second.header.is_linked_to_previous = False
    second.header.paragraphs[0].text = "Part two header"
    document.add_paragraph("Second part")
    document.add_section()  # linked to the previous header: not repeated
    document.add_paragraph("Third part")
    out = io.BytesIO()
    document.save(out)
    lines = read(out.getvalue(), "parts.docx").split("\n")
    assert lines[:2] == ["Part one header", "Part two header"]
    assert [line for line in lines if "part" in line] == ["First part", "Second part", "Third part"]


def test_docx_tracked_changes_show_the_current_text_only() -> None:
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    body = (
        f"<w:document {w}><w:body><w:p>"
        "<w:r><w:t>Pay </w:t></w:r>"
        "<w:del><w:r><w:delText>100</w:delText></w:r></w:del>"
        "<w:ins><w:r><w:t>120</w:t></w:r></w:ins>"
        "<w:r><w:tab/><w:t>EUR</w:t></w:r>"
        "</w:p><w:p><w:pPr><w:tabs><w:tab w:val='left' w:pos='720'/></w:tabs></w:pPr>"
        "<w:r><w:t>Tab stops are not tabs</w:t></w:r></w:p>"
        "<w:sdt><w:sdtContent><w:p><w:r><w:t>In a content control</w:t></w:r></w:p>"
        "</w:sdtContent></w:sdt></w:body></w:document>"
    )
    docx = rewrite_zip(make_docx(["placeholder"]), {"word/document.xml": body.encode()})
    assert read(docx, "changes.docx").split("\n") == [
        "Pay 120\tEUR",
        "Tab stops are not tabs",
        "In a content control",
    ]


def test_a_900_page_docx_is_read_whole_and_quickly() -> None:
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    paragraphs = "".join(
        f"<w:p><w:r><w:t>Paragraph {i} of a very long contract.</w:t></w:r></w:p>"
        for i in range(30_000)  # about 900 pages
    )
    body = f"<w:document {w}><w:body>{paragraphs}</w:body></w:document>".encode()
    docx = rewrite_zip(make_docx(["x"]), {"word/document.xml": body})
    started = time.process_time()
    text = read(docx, "long.docx")
    assert time.process_time() - started < 5.0  # linear: about 0.4 s on an idle core
    assert text.count("\n") == 29_999
    assert text.endswith("Paragraph 29999 of a very long contract.")


# --- PowerPoint ------------------------------------------------------------------------------


def test_pptx_gives_slides_in_order_with_their_notes() -> None:
    pptx = make_pptx(
        [
            ("Quarterly results", "Revenue up 12%", "Mention the weather"),
            ("Outlook", "Hiring in Q3", ""),
        ]
    )
    text = read(pptx, "deck.pptx")
    order = ["Quarterly results", "Revenue up 12%", "Mention the weather", "Outlook", "Hiring"]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)


# --- Spreadsheets ----------------------------------------------------------------------------


def test_xlsx_gives_sheet_names_and_tab_separated_rows() -> None:
    xlsx = make_xlsx(
        {
            "Budget 2024": [["Item", "Cost"], ["Paper", 12.5], ["Ink", 30]],
            "Empty": [],
            "Ünïcode ✓": [["Grüße", "日本"]],
        }
    )
    assert read(xlsx, "budget.xlsx").split("\n") == [
        "Budget 2024",
        "Item\tCost",
        "Paper\t12.5",
        "Ink\t30",
        "",
        "Empty",
        "",
        "Ünïcode ✓",
        "Grüße\t日本",
    ]


def test_a_macro_enabled_xlsm_reads_like_an_xlsx() -> None:
    xlsx = make_xlsx({"Data": [["macro", "book"]]})
    types = zipfile.ZipFile(io.BytesIO(xlsx)).read("[Content_Types].xml")
    xlsm = rewrite_zip(
        xlsx,
        {
            "[Content_Types].xml": types.replace(
                b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml"
            )
        },
    )
    assert detect(xlsm, "tool.xlsm", LIMITS).format == "xlsx"
    assert "macro\tbook" in read(xlsm, "tool.xlsm")


def test_a_workbook_without_values_is_read_with_no_text() -> None:
    assert read(make_xlsx({"Sheet1": [], "Sheet2": []}), "blank.xlsx") == ""


def test_ods_gives_sheet_names_rows_and_repeated_cells() -> None:
    cell = '<table:table-cell office:value-type="string"><text:p>{}</text:p></table:table-cell>'
    ods = make_odf(
        "ods",
        "<office:spreadsheet>"
        '<table:table table:name="Budget"><table:table-row>'
        + cell.format("Item")
        + '<table:table-cell table:number-columns-repeated="2"><text:p>x</text:p>'
        "</table:table-cell>"
        '<table:table-cell table:number-columns-repeated="16000"/></table:table-row>'
        '<table:table-row table:number-rows-repeated="1048000"><table:table-cell/>'
        "</table:table-row></table:table>"
        '<table:table table:name="Second"><table:table-row>'
        + cell.format("last")
        + "</table:table-row></table:table></office:spreadsheet>",
    )
    assert read(ods, "book.ods").split("\n") == ["Budget", "Item\tx\tx", "", "Second", "last"]


# --- OpenDocument text and presentations -----------------------------------------------------


def test_odt_gives_headers_body_notes_comments_and_footers() -> None:
    odt = make_odf(
        "odt",
        "<office:text><text:h>Title</text:h>"
        "<text:p>Body<text:note><text:note-citation>1</text:note-citation><text:note-body>"
        "<text:p>Footnote text</text:p></text:note-body></text:note> continues"
        "<office:annotation><dc:creator>Ann</dc:creator><dc:date>2024-01-01</dc:date>"
        "<text:p>A comment</text:p></office:annotation>.</text:p>"
        "<text:p>Anchor<draw:frame><draw:text-box><text:p>Boxed text</text:p></draw:text-box>"
        "</draw:frame></text:p>"
        "<table:table><table:table-row><table:table-cell><text:p>c1</text:p></table:table-cell>"
        "<table:table-cell><text:p>c2</text:p></table:table-cell></table:table-row></table:table>"
        '<text:p>a<text:s text:c="3"/>b<text:tab/>c<text:line-break/>d</text:p>'
        "<text:tracked-changes><text:changed-region><text:deletion><text:p>deleted words</text:p>"
        "</text:deletion></text:changed-region></text:tracked-changes></office:text>",
        master_styles='<style:master-page style:name="Standard"><style:header><text:p>Header'
        "</text:p></style:header><style:footer><text:p>Footer</text:p></style:footer>"
        "</style:master-page>",
    )
    assert read(odt, "letter.odt").split("\n") == [
        "Header",
        "Title",
        "Body continues.",
        "Anchor",
        "Boxed text",
        "c1\tc2",
        "a   b\tc",
        "d",
        "Footnote text",
        "Comment (Ann): A comment",
        "Footer",
    ]


def test_odp_gives_each_slide_then_its_notes() -> None:
    def slide(title: str, notes: str) -> str:
        return (
            f'<draw:page draw:name="{title}"><draw:frame><draw:text-box><text:p>{title}</text:p>'
            "</draw:text-box></draw:frame><presentation:notes><draw:page-thumbnail/>"
            f"<draw:frame><draw:text-box><text:p>{notes}</text:p></draw:text-box></draw:frame>"
            "</presentation:notes></draw:page>"
        )

    odp = make_odf(
        "odp", f"<office:presentation>{slide('Intro', 'Say hello')}"
        f"{slide('Plan', 'Keep it short')}</office:presentation>"
    )
    assert read(odp, "talk.odp").split("\n") == [
        "Intro", "Notes:", "Say hello", "", "Plan", "Notes:", "Keep it short"
    ]


def test_odf_drawings_and_templates_are_read_too() -> None:
    drawing = make_odf("odp", "<office:drawing><draw:page><draw:frame><draw:text-box><text:p>"
                       "Flow chart label</text:p></draw:text-box></draw:frame></draw:page>"
                       "</office:drawing>")
    odg = rewrite_zip(drawing, {"mimetype": b"application/vnd.oasis.opendocument.graphics"})
    assert read(odg, "chart.odg") == "Flow chart label"
    letter = make_odf("odt", "<office:text><text:p>Dear customer,</text:p></office:text>")
    ott = rewrite_zip(letter, {"mimetype": b"application/vnd.oasis.opendocument.text-template"})
    assert read(ott, "letter.ott") == "Dear customer,"


# --- RTF and EPUB ----------------------------------------------------------------------------


def test_rtf_decodes_code_page_and_unicode_escapes() -> None:
    text = read(make_rtf(["Café crème – 5 €", "Пример текста", "日本語"]), "note.rtf")
    assert "Café crème – 5 €" in text
    assert "Пример текста" in text
    assert "日本語" in text


def test_epub_gives_its_chapters_in_order() -> None:
    epub = make_epub([("Chapter One", "It was a dark night."), ("Chapter Two", "Dawn came.")])
    text = read(epub, "book.epub")
    assert text.index("It was a dark night.") < text.index("Dawn came.")


# --- text in every encoding ------------------------------------------------------------------


SAMPLES = {
    "cp1252": "Le café coûte 5 € — très “cher”, n’est-ce pas ? Voilà la déjà-vu.",
    "latin-1": "Le café est très bon. Où est la bibliothèque? Ça va, merci à vous.",
    "cp1250": "Příliš žluťoučký kůň úpěl ďábelské ódy. Zażółć gęślą jaźń, łódź.",
    "cp1251": "Съешь же ещё этих мягких французских булок, да выпей чаю. Привет мир.",
    "cp1253": "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Γειά σου κόσμε, καλημέρα σας.",
    "utf-8": "Grüße, 日本語, emoji 🙂 and Ελληνικά in one line.",
}


@pytest.mark.parametrize("encoding", list(SAMPLES))
def test_text_in_legacy_and_unicode_encodings_is_decoded(encoding: str) -> None:
    text = SAMPLES[encoding]
    assert read(text.encode(encoding), "notes.txt") == text


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_without_a_bom_are_recognised(encoding: str) -> None:
    text = "Invoice 42, total 1.200,00 € — Grüße aus Köln\nSecond line"
    assert read(text.encode(encoding), "export.txt") == text


@pytest.mark.parametrize(
    ("filename", "content", "expected_format"),
    [
        ("table.csv", "name;amount\r\nZoë;12,50\r\n", "csv"),
        ("table.tsv", "name\tamount\nZoë\t12.50\n", "tsv"),
        ("data.json", '{"name": "Zoë", "amount": 12.5}', "json"),
        ("readme.md", "# Zoë\n\n- amount: 12.50\n", "markdown"),
    ],
)
def test_structured_text_formats_keep_their_text(
    filename: str, content: str, expected_format: str
) -> None:
    for encoding in ("utf-8", "utf-16", "cp1252"):
        data = content.encode(encoding)
        assert detect(data, filename, LIMITS).format == expected_format
        assert read(data, filename) == content.replace("\r\n", "\n").strip("\n")


def test_xml_honours_its_declared_encoding() -> None:
    xml = '<?xml version="1.0" encoding="windows-1251"?><note>Привет</note>'
    assert "Привет" in read(xml.encode("cp1251"), "note.xml")


def test_xhtml_with_an_xml_prolog_is_read_as_html() -> None:
    page = (
        '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE html><html '
        'xmlns="http://www.w3.org/1999/xhtml"><head><title>T</title></head>'
        "<body><p>Grüße</p></body></html>"
    )
    assert read(page.encode(), "page.xhtml").split("\n") == ["T", "Grüße"]


def test_every_new_format_goes_through_the_whole_pipeline() -> None:
    result = process_document(make_full_docx(), "report.docx")
    assert result.classification.doc_type
    assert result.children == []


def test_kreuzberg_leaves_no_cache_behind(tmp_path, monkeypatch) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.chdir(work)
    read(make_pptx([("Cached?", "", "")]), "deck.pptx")
    read(make_xlsx({"S": [["x"]]}), "book.xlsx")
    assert list(home.iterdir()) == [] and list(work.iterdir()) == []
