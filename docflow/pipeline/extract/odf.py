"""OpenDocument text, spreadsheets and presentations (ODT, ODS, ODP) from their XML.

kreuzberg drops ODT headers, footers and comments, collapses `<text:s>` spacing, loses cells
after large repeated ranges in ODS and cannot read ODP, so ODF has its own reader: headers
(from styles.xml), the body in reading order (text boxes after their anchor paragraph, tables
row by row with cells tab-separated, each sheet under its name, each slide followed by its
speaker notes), then footnotes and endnotes, comments, and footers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from ..errors import CorruptDocument, EncryptedDocument
from ..types import DetectedType, ExtractedText, Limits
from .registry import register
from .safe_xml import parse_xml
from .safe_zip import UnpackBudget, open_zip, read_member

_LABELS = {
    "odt": "OpenDocument text",
    "ods": "OpenDocument spreadsheet",
    "odp": "OpenDocument presentation",
    "odg": "OpenDocument drawing",
}
_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
    "dc": "http://purl.org/dc/elements/1.1/",
    "manifest": "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0",
}


def _q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{_NS[prefix]}}}{local}"


_PARAGRAPHS = {_q("text:p"), _q("text:h")}
_TABLE = _q("table:table")
_ROW = _q("table:table-row")
_ROW_GROUPS = {_q("table:table-header-rows"), _q("table:table-rows"), _q("table:table-row-group")}
_CELLS = {_q("table:table-cell"), _q("table:covered-table-cell")}
_NOTE, _NOTE_BODY = _q("text:note"), _q("text:note-body")
_ANNOTATION = _q("office:annotation")
_SPACE, _TAB, _LINE_BREAK = _q("text:s"), _q("text:tab"), _q("text:line-break")
_SLIDE, _NOTES = _q("draw:page"), _q("presentation:notes")
_FRAME_LIKE = {_q("draw:frame"), _q("draw:custom-shape"), _q("draw:g"), _q("draw:text-box")}
# Not what a reader sees: deleted text kept for change tracking, form controls, sequence and
# variable declarations, an annotation's author/date lines, a note's citation mark.
_SKIP = {
    _q("text:tracked-changes"), _q("office:forms"), _q("text:sequence-decls"),
    _q("text:variable-decls"), _q("text:user-field-decls"), _q("dc:creator"), _q("dc:date"),
    _q("text:note-citation"), _q("table:table-source"), _q("office:annotation-end"),
}
_HEADERS = [_q(f"style:{name}") for name in ("header-first", "header", "header-left")]
_FOOTERS = [_q(f"style:{name}") for name in ("footer-first", "footer", "footer-left")]
_COLUMNS_REPEATED = _q("table:number-columns-repeated")
_ROWS_REPEATED = _q("table:number-rows-repeated")
_SPACES = _q("text:c")
_WHITESPACE = re.compile(r"[ \t\r\n]+")  # ODF collapses these in text, like HTML
# Repeated rows or cells that hold text are written out at most this often: honest files
# repeat a few rows; a sheet that repeats a value a million times is not read a million times.
_MAX_REPEAT = 1000


@register("odt", "ods", "odp", "odg")
def extract_odf(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    label = _LABELS[detected.format]
    archive = open_zip(data, limits, label)
    budget = UnpackBudget.of(limits)

    def part(name: str) -> etree._Element | None:
        if name not in archive.NameToInfo:
            return None
        try:
            return parse_xml(read_member(archive, archive.getinfo(name), limits, budget, label))
        except etree.XMLSyntaxError as exc:
            raise CorruptDocument(
                f"The {label} file's {name} is damaged or was built to attack XML readers; "
                "try saving the document again."
            ) from exc

    manifest = part("META-INF/manifest.xml")
    if manifest is not None and manifest.find(f".//{_q('manifest:encryption-data')}") is not None:
        raise EncryptedDocument(
            f"The {label} file is password-protected; remove the password and upload it again."
        )
    content = part("content.xml")
    if content is None:
        raise CorruptDocument(
            f"The {label} file has no content.xml; it is damaged or not really an "
            "OpenDocument file."
        )
    reader = _Reader(spreadsheet=detected.format == "ods")
    styles = part("styles.xml")
    headers = reader.page_furniture(styles, _HEADERS)
    footers = reader.page_furniture(styles, _FOOTERS)
    body: list[str] = []
    for office_body in content.iter(_q("office:body")):
        reader.blocks(office_body, body)
    if reader.spreadsheet and not reader.filled_rows:
        body = []  # sheet names alone are not content: the file is empty
    comments = [f"Comment ({who}): {text}" if who else f"Comment: {text}" for who, text in
                reader.comments]
    return ExtractedText(text="\n".join([*headers, *body, *reader.notes, *comments, *footers]))


@dataclass
class _Reader:
    spreadsheet: bool
    notes: list[str] = field(default_factory=list)
    comments: list[tuple[str, str]] = field(default_factory=list)
    filled_rows: int = 0

    def page_furniture(self, styles: etree._Element | None, tags: list[str]) -> list[str]:
        """Header or footer texts of every master page, each once."""
        if styles is None:
            return []
        seen: dict[str, None] = {}
        for page in styles.iter(_q("style:master-page")):
            for tag in tags:
                for region in page.iter(tag):
                    lines: list[str] = []
                    self.blocks(region, lines)
                    text = "\n".join(line for line in lines if line.strip())
                    if text:
                        seen[text] = None
        return list(seen)

    def blocks(self, element: etree._Element, out: list[str]) -> None:
        for child in element.iterchildren(tag=etree.Element):
            tag = child.tag
            if tag in _SKIP:
                continue
            if tag in _PARAGRAPHS:
                self.paragraph(child, out)
            elif tag == _TABLE:
                self.table(child, out)
            elif tag == _ANNOTATION:
                self.annotation(child)
            elif tag == _SLIDE:
                self.slide(child, out)
            else:  # sections, lists, frames, shapes, text boxes: their paragraphs in order
                self.blocks(child, out)

    def paragraph(self, element: etree._Element, out: list[str]) -> None:
        parts: list[str] = []
        after: list[str] = []  # text boxes anchored in this paragraph
        self.inline(element, parts, after)
        out.append("".join(parts).strip(" "))
        out.extend(after)

    def inline(self, element: etree._Element, parts: list[str], after: list[str]) -> None:
        if element.text:
            parts.append(_WHITESPACE.sub(" ", element.text))
        for child in element.iterchildren(tag=etree.Element):
            tag = child.tag
            if tag == _SPACE:
                parts.append(" " * min(_count(child.get(_SPACES)), _MAX_REPEAT))
            elif tag == _TAB:
                parts.append("\t")
            elif tag == _LINE_BREAK:
                parts.append("\n")
            elif tag == _NOTE:
                for body in child.iter(_NOTE_BODY):
                    self.blocks(body, self.notes)
            elif tag == _ANNOTATION:
                self.annotation(child)
            elif tag in _FRAME_LIKE:
                self.blocks(child, after)
            elif tag not in _SKIP:
                self.inline(child, parts, after)  # spans, links, fields, ruby
            if child.tail:
                parts.append(_WHITESPACE.sub(" ", child.tail))

    def annotation(self, element: etree._Element) -> None:
        author = "".join(element.findtext(_q("dc:creator")) or "").strip()
        lines: list[str] = []
        self.blocks(element, lines)
        text = " ".join(line.strip() for line in lines if line.strip())
        if text:
            self.comments.append((author, text))

    def table(self, element: etree._Element, out: list[str]) -> None:
        if self.spreadsheet:
            out.append(element.get(_q("table:name"), ""))
        for row in _own_rows(element):
            cells: list[tuple[str, int]] = []
            for cell in row.iterchildren(tag=etree.Element):
                if cell.tag in _CELLS:
                    lines: list[str] = []
                    self.blocks(cell, lines)
                    text = " ".join(line.strip() for line in lines if line.strip())
                    cells.append((text, _count(cell.get(_COLUMNS_REPEATED))))
            while cells and not cells[-1][0]:
                cells.pop()  # trailing empty columns, however often repeated, are nothing
            if not cells:
                continue
            line = "\t".join("\t".join([text] * min(times, _MAX_REPEAT)) for text, times in cells)
            self.filled_rows += 1
            out.extend([line] * min(_count(row.get(_ROWS_REPEATED)), _MAX_REPEAT))
        if self.spreadsheet:
            out.append("")

    def slide(self, element: etree._Element, out: list[str]) -> None:
        notes: list[str] = []
        for child in element.iterchildren(tag=etree.Element):
            if child.tag == _NOTES:
                self.blocks(child, notes)
            elif child.tag in _PARAGRAPHS:
                self.paragraph(child, out)
            elif child.tag == _TABLE:
                self.table(child, out)
            else:
                self.blocks(child, out)
        notes = [line for line in notes if line.strip()]
        if notes:
            out.extend(["Notes:", *notes])
        out.append("")


def _own_rows(table: etree._Element) -> Iterator[etree._Element]:
    """The table's rows, through row groups, but not the rows of tables nested in its cells."""
    for child in table.iterchildren(tag=etree.Element):
        if child.tag == _ROW:
            yield child
        elif child.tag in _ROW_GROUPS:
            yield from _own_rows(child)


def _count(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1
