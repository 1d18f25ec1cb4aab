"""Each format family gives back its text, and every failure is a DocumentError with a reason."""

from __future__ import annotations

import io
import zipfile

import docx as python_docx
import pytest
from docx.oxml import parse_xml

from docflow.pipeline import (
    CorruptDocument,
    DetectedType,
    DocumentTooLarge,
    EmptyDocument,
    EncryptedDocument,
    Limits,
    TooManyPages,
    UnsupportedFormat,
    detect,
    extract,
)
from tests.fixtures import make_docx, make_encrypted_docx, make_encrypted_pdf, make_pdf

LIMITS = Limits()


def read(data: bytes, filename: str, limits: Limits = LIMITS):
    return extract(data, detect(data, filename, limits), limits)


# --- PDF -----------------------------------------------------------------------------------


def test_a_multi_page_pdf_gives_text_per_page() -> None:
    pdf = make_pdf(["First page\nsecond line", "Page two says hello", "Café costs €5 (cash)"])
    extracted = read(pdf, "three.pdf")
    assert extracted.page_count == 3
    assert extracted.pages[0] == "First page\nsecond line"  # pdfium's \r\n is normalised
    assert extracted.pages[1] == "Page two says hello"
    assert extracted.pages[2] == "Café costs €5 (cash)"
    assert extracted.text == "\n\n".join(extracted.pages)
    assert "\r" not in extracted.text


def test_a_pdf_with_a_blank_page_keeps_page_numbering() -> None:
    extracted = read(make_pdf(["one", "", "three"]), "gap.pdf")
    assert extracted.pages == ["one", "", "three"]


def test_a_pdf_with_only_blank_pages_is_read_with_no_text_and_says_why() -> None:
    extracted = read(make_pdf(["", ""]), "scan.pdf")
    assert extracted.text == ""
    assert extracted.pages == ["", ""]
    assert any("blank" in note for note in extracted.warnings)


def test_a_pdf_over_the_page_limit_is_refused() -> None:
    with pytest.raises(TooManyPages) as error:
        read(make_pdf(["a", "b", "c"]), "long.pdf", Limits(max_pages=2))
    assert error.value.code == "too_many_pages"


def test_a_password_protected_pdf_is_encrypted_not_corrupt() -> None:
    with pytest.raises(EncryptedDocument) as error:
        read(make_encrypted_pdf(["Top secret"], user_password="hunter2"), "secret.pdf")
    assert "password" in error.value.message


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\n" + bytes(range(256)) * 20,  # garbage after the header
        b"%PDF-1.7\n%%EOF\n",  # a header and nothing else
    ],
    ids=["garbage-after-header", "header-only"],
)
def test_a_broken_pdf_is_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptDocument) as error:
        read(data, "broken.pdf")
    assert error.value.code == "corrupt"


def test_a_truncated_pdf_is_corrupt_or_partially_read() -> None:
    pdf = make_pdf(["Alpha page", "Beta page"])
    try:
        extracted = read(pdf[: len(pdf) // 3], "cut.pdf")
    except (CorruptDocument, EmptyDocument):
        return  # both are honest answers; what matters is no raw library error
    assert "Alpha" in extracted.text or "Beta" in extracted.text


def _fpdf2(pages: list[str], *, password: str | None = None) -> bytes:
    """A PDF as a real producer writes it (fpdf2: compressed streams, xref of its own)."""
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
    if password is not None:
        pdf.set_encryption(owner_password="owner", user_password=password,
                           encryption_method=EncryptionMethod.AES_128)
    return bytes(pdf.output())


def test_a_pdf_made_by_a_pdf_library_reads_page_by_page() -> None:
    pages = ["Invoice INV-42 from Müller GmbH\nTotal due: 1.250,00 EUR by 30.04.2024",
             "", "Terms: payment within 30 days of the invoice date."]
    data = _fpdf2(pages)
    assert b"/FlateDecode" in data  # not the plain streams of our own fixtures
    assert detect(data, "library.pdf", LIMITS).format == "pdf"
    extracted = read(data, "library.pdf")
    assert extracted.page_count == 3 and extracted.pages[1] == ""
    assert extracted.pages[0] == pages[0]
    assert "within 30 days" in extracted.pages[2]
    with pytest.raises(EncryptedDocument):
        read(_fpdf2(pages, password="hunter2"), "library-secret.pdf")


# --- DOCX ----------------------------------------------------------------------------------


def test_a_docx_gives_header_body_tables_and_footer_in_order() -> None:
    docx = make_docx(
        ["Dear team,", [["Item", "Price"], ["Widget", "9.99"]], "See the totals below."],
        header="ACME Corp confidential",
        footer="Page footer text",
        table=[["Total", "9.99"]],
    )
    lines = read(docx, "memo.docx").text.split("\n")
    assert lines == [
        "ACME Corp confidential",
        "Dear team,",
        "Item\tPrice",
        "Widget\t9.99",
        "See the totals below.",
        "Total\t9.99",
        "Page footer text",
    ]


def test_merged_table_cells_are_read_once() -> None:
    document = python_docx.Document()
    table = document.add_table(rows=3, cols=2)
    rows = [("Region", "North"), ("", "South"), ("Total", "")]
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    table.cell(0, 0).merge(table.cell(1, 0))  # "Region" spans two rows
    table.cell(2, 0).merge(table.cell(2, 1))  # "Total" spans two columns
    out = io.BytesIO()
    document.save(out)
    assert read(out.getvalue(), "merged.docx").text.split("\n") == [
        "Region\tNorth",
        "\tSouth",
        "Total",
    ]


def test_text_boxes_are_read_once_beside_their_paragraph() -> None:
    document = python_docx.Document()
    anchor = document.add_paragraph("Before the box.")
    box = (
        '<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
        'xmlns:v="urn:schemas-microsoft-com:vml"><mc:AlternateContent>'
        "<mc:Choice Requires=\"wps\"><wps:txbx><w:txbxContent><w:p><w:r><w:t>Boxed note</w:t>"
        "</w:r></w:p></w:txbxContent></wps:txbx></mc:Choice>"
        "<mc:Fallback><v:textbox><w:txbxContent><w:p><w:r><w:t>Boxed note</w:t></w:r></w:p>"
        "</w:txbxContent></v:textbox></mc:Fallback></mc:AlternateContent></w:r>"
    )
    anchor._p.append(parse_xml(box))
    document.add_paragraph("After the box.")
    out = io.BytesIO()
    document.save(out)
    text = read(out.getvalue(), "boxed.docx").text
    assert text.split("\n") == ["Before the box.", "Boxed note", "After the box."]


DOCX_MAIN = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
DOCM_MAIN = b"application/vnd.ms-word.document.macroEnabled.main+xml"


def test_a_macro_enabled_docm_reads_like_a_docx() -> None:
    source = zipfile.ZipFile(io.BytesIO(make_docx(["Macro document body"])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(DOCX_MAIN, DOCM_MAIN)
            target.writestr(item, data)
    assert b"macroEnabled" in zipfile.ZipFile(out).read("[Content_Types].xml")
    assert read(out.getvalue(), "macro.docm").text == "Macro document body"


def test_a_password_protected_docx_is_encrypted() -> None:
    with pytest.raises(EncryptedDocument) as error:
        read(make_encrypted_docx(), "salaries.docx")
    assert "password" in error.value.message


def test_a_docx_with_a_broken_zip_is_corrupt() -> None:
    broken = make_docx(["hello"])[:300]
    with pytest.raises(CorruptDocument) as error:
        read(broken, "broken.docx")
    assert "Word" in error.value.message


def test_a_docx_that_unpacks_past_the_size_limit_is_refused() -> None:
    docx = make_docx(["x" * 50_000])
    with pytest.raises(DocumentTooLarge):
        read(docx, "bomb.docx", Limits(max_unpacked_bytes=len(docx) + 1000))


def test_a_docx_without_text_is_read_with_no_text() -> None:
    assert read(make_docx([]), "blank.docx").text == ""


# --- HTML ----------------------------------------------------------------------------------


PAGE = """<!DOCTYPE html>
<html><head>{meta}<title>Menu</title>
<style>body {{ color: red }}</style><script>var hidden = "do not index";</script></head>
<body><h1>Café   du   Marché</h1>
<p>Crème brûlée<br>and   naïve
  piñata</p>
<noscript>Enable JavaScript</noscript>
<table><tr><td>Soupe</td><td>€4</td></tr></table>
<!-- a comment -->
<ul><li>one</li><li>two</li></ul></body></html>
"""
EXPECTED_LINES = [
    "Menu",
    "Café du Marché",
    "Crème brûlée",
    "and naïve piñata",
    "Soupe\t€4",
    "one",
    "two",
]


def test_utf8_html_with_meta_charset_gives_readable_lines() -> None:
    page = PAGE.format(meta='<meta charset="utf-8">').encode("utf-8")
    assert read(page, "menu.html").text.split("\n") == EXPECTED_LINES


def test_windows_1252_html_is_decoded_by_its_meta_tag() -> None:
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    page = PAGE.format(meta=meta).encode("cp1252")
    assert read(page, "menu.htm").text.split("\n") == EXPECTED_LINES


def test_html_that_says_latin1_is_read_as_windows_1252() -> None:
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>“Quoted” €5</p></body></html>'
    assert read(page.encode("cp1252"), "q.html").text == "“Quoted” €5"


def test_html_without_a_declaration_is_detected() -> None:
    page = PAGE.format(meta="").encode("utf-8")
    assert read(page, "menu.html").text.split("\n") == EXPECTED_LINES


def test_utf16_html_with_a_bom() -> None:
    page = PAGE.format(meta='<meta charset="utf-8">').encode("utf-16")
    assert read(page, "menu.html").text.split("\n") == EXPECTED_LINES


def test_html_with_only_scripts_is_read_with_no_text() -> None:
    # Markup may carry only pictures; unlike a text file, no text is not a broken file.
    assert read(b"<html><script>alert(1)</script></html>", "blank.html").text == ""


# --- text ----------------------------------------------------------------------------------


def test_utf16_text_with_a_bom() -> None:
    text = "Grüße aus Köln\r\nZweite Zeile – mit Gedankenstrich"
    extracted = read(text.encode("utf-16"), "letter.txt")
    assert extracted.text == "Grüße aus Köln\nZweite Zeile – mit Gedankenstrich"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16-be", "utf-32"])
def test_text_in_other_unicode_encodings_with_a_bom(encoding: str) -> None:
    assert read("Ærø ñandú".encode(encoding), "a.txt").text == "Ærø ñandú"


def test_latin1_text_without_a_bom_is_detected() -> None:
    text = "Le café est très bon. Où est la bibliothèque? Ça va, merci à vous."
    assert read(text.encode("latin-1"), "notes.txt").text == text


def test_csv_keeps_its_rows() -> None:
    csv = b"name,amount\r\nAlice,10.50\r\nBob,7\r\n"
    extracted = read(csv, "payments.csv")
    assert extracted.text == "name,amount\nAlice,10.50\nBob,7"


def test_markdown_is_kept_as_written() -> None:
    md = "# Quarterly report\n\n- revenue up\n- costs down\n"
    assert read(md.encode(), "report.md").text == md.strip()


def test_a_whitespace_only_text_file_is_empty() -> None:
    with pytest.raises(EmptyDocument):
        read(b"  \n\n \t \n", "blank.txt")


def test_text_longer_than_the_limit_is_cut_and_flagged() -> None:
    extracted = read(b"abcdefghij" * 10, "long.txt", Limits(max_text_chars=25))
    assert extracted.text == ("abcdefghij" * 3)[:25]
    assert extracted.truncated
    assert extracted.warnings


# --- formats without a reader --------------------------------------------------------------


def test_an_image_is_read_by_ocr_so_a_broken_one_is_corrupt_not_unsupported() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # tests/pipeline/test_image.py reads real ones
    with pytest.raises(CorruptDocument):
        read(png, "scan.png")


def test_a_recognised_but_unreadable_format_says_so() -> None:
    detected = DetectedType(format="ole2", mime_type="application/x-ole-storage")
    with pytest.raises(UnsupportedFormat) as error:
        extract(b"\xd0\xcf\x11\xe0", detected, LIMITS)
    assert "Office 97-2003" in error.value.message
