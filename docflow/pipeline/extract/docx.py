"""Word (DOCX) text with python-docx: headers, body paragraphs and tables in order, footers."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

from docx.document import Document
from docx.opc.part import PartFactory
from docx.package import Package
from docx.parts.document import DocumentPart
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from lxml import etree

from ..errors import CorruptDocument, DocumentTooLarge, EncryptedDocument, UnsupportedFormat
from ..types import DetectedType, ExtractedText, Limits
from .registry import register

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_NAMESPACES = {
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006",
}
# Text boxes live inside runs, which python-docx's Paragraph.text skips; the VML fallback
# copy of each box repeats the same text, so it is left out.
_TEXT_BOX_PARAGRAPHS = etree.XPath(
    ".//w:txbxContent[not(ancestor::mc:Fallback)]/w:p", namespaces=_NAMESPACES
)
# Macro-enabled files and templates have the same body as a .docx, but python-docx only
# registers the plain .docx content type for its document part.
for _content_type in (
    "application/vnd.ms-word.document.macroEnabled.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
):
    PartFactory.part_type_for.setdefault(_content_type, DocumentPart)


@register("docx")
def extract_docx(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    document = _open(data, limits)
    headers, footers = _headers_and_footers(document)
    body = list(_block_lines(document.iter_inner_content()))
    return ExtractedText(text="\n".join([*headers, *body, *footers]))


def _open(data: bytes, limits: Limits) -> Document:
    if data.startswith(_OLE2_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise EncryptedDocument(
                "The Word document is password-protected; remove the password and upload it again."
            )
        raise UnsupportedFormat(
            "This is an old-style Word file (.doc), which docflow cannot read yet; "
            "save it as .docx or PDF."
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > limits.max_file_bytes:  # a zip bomb stops here, before anything inflates
            raise DocumentTooLarge(
                f"The Word document unpacks to {unpacked:,} bytes, over the "
                f"{limits.max_file_bytes:,}-byte limit."
            )
        part = Package.open(io.BytesIO(data)).main_document_part
    except DocumentTooLarge:
        raise
    except Exception as exc:  # python-docx raises zip, XML, key and value errors alike
        raise CorruptDocument(
            "The Word document could not be opened; it may be damaged or not really a .docx. "
            "Try saving it again from Word."
        ) from exc
    if not isinstance(part, DocumentPart):
        raise CorruptDocument(
            "The file is a zip package but its main part is not a Word document; "
            "check that it really is a .docx."
        )
    return part.document


def _headers_and_footers(document: Document) -> tuple[list[str], list[str]]:
    headers: dict[str, None] = {}  # dicts keep order and drop repeats across sections
    footers: dict[str, None] = {}
    for section in document.sections:
        for parts, found in (
            ((section.first_page_header, section.header, section.even_page_header), headers),
            ((section.first_page_footer, section.footer, section.even_page_footer), footers),
        ):
            for part in parts:
                # Reading a linked part would make python-docx add an empty definition.
                if not part.is_linked_to_previous:
                    text = "\n".join(_block_lines(part.iter_inner_content()))
                    if text.strip():
                        found[text] = None
    return list(headers), list(footers)


def _block_lines(blocks: Iterable[Paragraph | Table]) -> Iterable[str]:
    for block in blocks:
        if isinstance(block, Paragraph):
            yield block.text
            for box_paragraph in _TEXT_BOX_PARAGRAPHS(block._p):
                yield Paragraph(box_paragraph, block._parent).text
        else:
            yield from _table_lines(block)


def _table_lines(table: Table) -> Iterable[str]:
    # Physical cells, not python-docx's grid view: `row.cells` repeats merged cells and raises
    # on irregular grids that Word itself opens fine.
    for row in table._tbl.tr_lst:
        yield "\t".join(
            # A cell continuing a vertical merge is hidden in Word; the merge's first cell shows.
            "" if cell.vMerge == "continue" else _cell_text(_Cell(cell, table))
            for cell in row.tc_lst
        )


def _cell_text(cell: _Cell) -> str:
    lines = (line.strip() for line in _block_lines(cell.iter_inner_content()))
    return " ".join(line for line in lines if line)
