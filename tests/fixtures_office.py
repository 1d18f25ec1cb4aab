"""Office, OpenDocument, EPUB, RTF and ZIP files made at test time, each stating its content."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence

import docx
import pptx
import xlsxwriter
from docx.oxml import parse_xml

# --- ZIP and OOXML packages -----------------------------------------------------------------


def make_zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP archive holding `members` (name -> bytes) in the given order."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def rewrite_zip(package: bytes, changes: dict[str, bytes | None]) -> bytes:
    """`package` with members replaced or added (bytes) or removed (None)."""
    source = zipfile.ZipFile(io.BytesIO(package))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename not in changes:
                target.writestr(item, source.read(item))
        for name, data in changes.items():
            if data is not None:
                target.writestr(name, data)
    return out.getvalue()


_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_FOOTNOTES_TYPE = (
    "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
)
_FOOTNOTES_REL = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes"
)


def make_full_docx() -> bytes:
    """A Word document using every story docflow reads.

    Header "Letterhead Ltd", body "Intro paragraph" with footnote 1 ("Source: annual report")
    and a comment by "Rita" ("Check this figure") on "Revenue grew 12%", a text box
    "Boxed remark" anchored in "Shape anchor", a table (Region/Sales, North/42) and footer
    "Page footer".
    """
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "Letterhead Ltd"
    document.sections[0].footer.paragraphs[0].text = "Page footer"
    intro = document.add_paragraph("Intro paragraph")
    intro._p.append(
        parse_xml(f'<w:r xmlns:w="{_W_NS}"><w:footnoteReference w:id="1"/></w:r>')
    )
    claim = document.add_paragraph()
    run = claim.add_run("Revenue grew 12%")
    document.add_comment(run, text="Check this figure", author="Rita")
    anchor = document.add_paragraph("Shape anchor")
    anchor._p.append(
        parse_xml(
            f'<w:r xmlns:w="{_W_NS}" '
            'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
            "<w:drawing><wps:txbx><w:txbxContent><w:p><w:r><w:t>Boxed remark</w:t></w:r></w:p>"
            "</w:txbxContent></wps:txbx></w:drawing></w:r>"
        )
    )
    table = document.add_table(rows=2, cols=2)
    for row, values in zip(table.rows, [("Region", "Sales"), ("North", "42")], strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    out = io.BytesIO()
    document.save(out)
    return add_docx_footnote(out.getvalue(), "Source: annual report")


def add_docx_footnote(package: bytes, text: str) -> bytes:
    """Add word/footnotes.xml with footnote 1 holding `text` (python-docx cannot write notes)."""
    archive = zipfile.ZipFile(io.BytesIO(package))
    footnotes = (
        f'<w:footnotes xmlns:w="{_W_NS}">'
        '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
        "</w:footnote>"
        f'<w:footnote w:id="1"><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:footnote>'
        "</w:footnotes>"
    ).encode()
    rels = archive.read("word/_rels/document.xml.rels").replace(
        b"</Relationships>",
        f'<Relationship Id="rIdNotes" Type="{_FOOTNOTES_REL}" Target="footnotes.xml"/>'
        "</Relationships>".encode(),
    )
    types = archive.read("[Content_Types].xml").replace(
        b"</Types>",
        f'<Override PartName="/word/footnotes.xml" ContentType="{_FOOTNOTES_TYPE}"/>'
        "</Types>".encode(),
    )
    return rewrite_zip(
        package,
        {
            "word/footnotes.xml": footnotes,
            "word/_rels/document.xml.rels": rels,
            "[Content_Types].xml": types,
        },
    )


def make_pptx(slides: Sequence[tuple[str, str, str]]) -> bytes:
    """A presentation: one slide per (title, body, speaker notes); empty strings are left out."""
    presentation = pptx.Presentation()
    for title, body, notes in slides:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        if title:
            slide.shapes.title.text = title
        if body:
            slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def make_xlsx(sheets: dict[str, Sequence[Sequence[object]]]) -> bytes:
    """A workbook with one sheet per name, each holding `rows` from A1 on."""
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for index, row in enumerate(rows):
            sheet.write_row(index, 0, row)
    workbook.close()
    return out.getvalue()


# --- OpenDocument, EPUB and RTF ---------------------------------------------------------------

ODF_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"'
)
ODF_MIMETYPES = {
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
}


def make_odf(
    kind: str, body: str, master_styles: str = "", encrypted: bool = False, prolog: str = ""
) -> bytes:
    """An OpenDocument file: `body` goes inside <office:body>, `master_styles` in styles.xml.

    `encrypted` writes the manifest entry a password-protected file has (the content stays
    readable here; the point is what the manifest says). `prolog` goes before the root element
    (a DOCTYPE, for hostile XML).
    """
    mimetype = ODF_MIMETYPES[kind]
    encryption = (
        "<manifest:encryption-data manifest:checksum-type='SHA1/1K' manifest:checksum='x'>"
        "<manifest:algorithm manifest:algorithm-name='Blowfish CFB' "
        "manifest:initialisation-vector='x'/></manifest:encryption-data>"
        if encrypted
        else ""
    )
    manifest = (
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mimetype}"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
        f"{encryption}</manifest:file-entry></manifest:manifest>"
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<office:document-content '
        f'{ODF_NAMESPACES} office:version="1.2"><office:body>{body}</office:body>'
        "</office:document-content>"
    )
    members = {"mimetype": mimetype.encode(), "content.xml": content.encode()}
    if master_styles:
        members["styles.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><office:document-styles {ODF_NAMESPACES}>'
            f"<office:master-styles>{master_styles}</office:master-styles>"
            "</office:document-styles>"
        ).encode()
    members["META-INF/manifest.xml"] = manifest.encode()
    return make_zip(members, compression=zipfile.ZIP_STORED)


def make_epub(chapters: Sequence[tuple[str, str]], encryption_xml: str | None = None) -> bytes:
    """An EPUB 3 book with one XHTML file per (title, paragraph) chapter."""
    items = "".join(
        f'<item id="c{i}" href="c{i}.xhtml" media-type="application/xhtml+xml"/>'
        for i in range(len(chapters))
    )
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
    members = {
        "mimetype": b"application/epub+zip",
        "META-INF/container.xml": (
            b'<?xml version="1.0"?><container version="1.0" '
            b'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            b'<rootfile full-path="content.opf" media-type="application/oebps-package+xml"/>'
            b"</rootfiles></container>"
        ),
        "content.opf": (
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
            'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            '<dc:identifier id="id">urn:uuid:1</dc:identifier><dc:title>Book</dc:title>'
            f"<dc:language>en</dc:language></metadata><manifest>{items}</manifest>"
            f"<spine>{spine}</spine></package>"
        ).encode(),
    }
    for i, (title, paragraph) in enumerate(chapters):
        members[f"c{i}.xhtml"] = (
            '<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
            f"<head><title>{title}</title></head><body><h1>{title}</h1><p>{paragraph}</p>"
            "</body></html>"
        ).encode()
    if encryption_xml is not None:
        members["META-INF/encryption.xml"] = encryption_xml.encode()
    return make_zip(members, compression=zipfile.ZIP_STORED)


def make_rtf(paragraphs: Sequence[str]) -> bytes:
    """An RTF document in code page 1252; characters outside it are written as \\uN escapes."""
    body = "".join(_rtf_escape(paragraph) + "\\par\n" for paragraph in paragraphs)
    return ("{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Arial;}}\\f0 " + body + "}").encode(
        "ascii"
    )


def _rtf_escape(text: str) -> str:
    out = []
    for char in text:
        if char in "\\{}":
            out.append("\\" + char)
        elif ord(char) < 128:
            out.append(char)
        elif char.encode("cp1252", errors="ignore"):
            out.append(f"\\'{char.encode('cp1252')[0]:02x}")
        else:
            code = ord(char)
            out.append(f"\\u{code if code < 32768 else code - 65536}?")
    return "".join(out)
