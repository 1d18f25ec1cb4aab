"""Word (DOCX) text, streamed from the package's XML: every story a reader of the file sees.

Headers, then the body (paragraphs, tables row by row with cells tab-separated, text boxes and
shapes, charts and SmartArt right after the paragraph that anchors them, content controls,
tracked insertions, and imported chunks (`w:altChunk`: HTML, MHT, RTF, text or a whole Word
document) where they stand), then footnotes, endnotes and comments, then footers. Of
`mc:AlternateContent` only the choice is read, never its fallback copy. The XML is streamed
with lxml's iterparse (finished body blocks are freed at once), which reads a 900-page document
in a fraction of the time a full object model takes and in flat memory.
"""

from __future__ import annotations

import email
import email.policy
import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from ..encoding import decode_text
from ..errors import CorruptDocument
from ..types import DetectedType, ExtractedText, Limits
from .drawingml import chart_lines, diagram_lines
from .html import declared_charset, html_to_text
from .ooxml import Package
from .registry import register
from .rtf import rtf_text
from .safe_xml import iter_xml

_LABEL = "Word"
# Transitional and Strict OOXML name the same elements in different namespaces.
_W = (
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",
)
_R = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_MAX_CHUNK_DEPTH = 3  # Word documents imported into Word documents, this deep at most


def _w(*names: str) -> set[str]:
    return {f"{{{ns}}}{name}" for ns in _W for name in names}


_PARAGRAPH = _w("p")
_TABLE, _ROW, _CELL = _w("tbl"), _w("tr"), _w("tc")
_TEXT = _w("t")
_TAB = _w("tab", "ptab")
_BREAK = _w("br", "cr")
_HYPHEN = _w("noBreakHyphen")
_VMERGE = _w("vMerge")
_NOTE = _w("footnote", "endnote")
_COMMENT = _w("comment")
_SECTION_REFERENCE = _w("headerReference", "footerReference")
# Subtrees whose text is not what the reader sees: the VML copy of a text box, paragraph
# properties (their <w:tab> elements are tab stops, not tabs) and text moved elsewhere.
_SKIP = {_MC_FALLBACK, *_w("pPr", "moveFrom")}


class _Role(enum.Enum):
    BLOCK = 1  # opens and closes a paragraph, table, row, cell, note or comment
    TEXT = 2
    CHARACTER = 3  # a tab, break or hyphen written as an element
    MERGE = 4
    REFERENCE = 5  # a section's header or footer
    SKIP = 6
    LINK = 7  # a chart, SmartArt diagram or imported chunk kept in a part of its own


_BLOCK_KINDS = {
    **dict.fromkeys(_PARAGRAPH, "p"), **dict.fromkeys(_CELL, "tc"), **dict.fromkeys(_ROW, "tr"),
    **dict.fromkeys(_TABLE, "tbl"), **dict.fromkeys(_NOTE | _COMMENT, "note"),
}
_CHARACTERS = {
    **dict.fromkeys(_TAB, "\t"), **dict.fromkeys(_BREAK, "\n"), **dict.fromkeys(_HYPHEN, "-")
}
_ROLES = {
    **dict.fromkeys(_BLOCK_KINDS, _Role.BLOCK), **dict.fromkeys(_TEXT, _Role.TEXT),
    **dict.fromkeys(_CHARACTERS, _Role.CHARACTER), **dict.fromkeys(_VMERGE, _Role.MERGE),
    **dict.fromkeys(_SECTION_REFERENCE, _Role.REFERENCE), **dict.fromkeys(_SKIP, _Role.SKIP),
}
_C = ("http://schemas.openxmlformats.org/drawingml/2006/chart",
      "http://purl.oclc.org/ooxml/drawingml/chart")
_DGM = ("http://schemas.openxmlformats.org/drawingml/2006/diagram",
        "http://purl.oclc.org/ooxml/drawingml/diagram")
_R_ID = {f"{{{ns}}}id" for ns in _R}
_R_DM = {f"{{{ns}}}dm" for ns in _R}
_LINKS = {  # element: (what it links to, the attribute holding the relationship id)
    **{f"{{{ns}}}chart": ("chart", _R_ID) for ns in _C},
    **{f"{{{ns}}}relIds": ("diagram", _R_DM) for ns in _DGM},
    **dict.fromkeys(_w("altChunk"), ("altChunk", _R_ID)),
}
_ROLES.update(dict.fromkeys(_LINKS, _Role.LINK))
_TAGS = tuple(_ROLES)
_W_VAL = _w("val")
_W_AUTHOR = _w("author")


@register("docx")
def extract_docx(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    package = Package.open(data, limits, _LABEL, ".docx")
    lines = _document_lines(package, 0)
    return ExtractedText(text="\n".join(lines), skipped=package.skipped)


def _document_lines(package: Package, depth: int) -> list[str]:
    main = package.main_document()
    parts = package.related(main)
    body = _Story(package.read(main) or b"", _Links(package, main, depth, parts))
    header_ids = [rid for kind, rid in body.section_references if kind == "headerReference"]
    footer_ids = [rid for kind, rid in body.section_references if kind == "footerReference"]
    return [
        *_distinct_stories(package, parts, header_ids, depth),
        *body.lines,
        *_story_lines(package, parts, "footnotes", depth),
        *_story_lines(package, parts, "endnotes", depth),
        *_story_lines(package, parts, "comments", depth),
        *_distinct_stories(package, parts, footer_ids, depth),
    ]


def _distinct_stories(
    package: Package, parts: dict[str, tuple[str, str]], ids: list[str], depth: int
) -> list[str]:
    """Header or footer texts in section order, each once (first page, odd and even repeat)."""
    seen: dict[str, None] = {}
    names = dict.fromkeys(parts[rid][1] for rid in ids if rid in parts)  # each part read once
    for name in names:
        text = "\n".join(_side_story(package, name, depth))
        if text.strip():
            seen[text] = None
    return list(seen)


def _story_lines(package: Package, parts: dict[str, tuple[str, str]], kind: str,
                 depth: int) -> list[str]:
    lines: list[str] = []
    for name in dict.fromkeys(name for part_kind, name in parts.values() if part_kind == kind):
        lines.extend(_side_story(package, name, depth))
    return lines


def _side_story(package: Package, name: str, depth: int) -> list[str]:
    """A header, footer, notes or comments part: damaged, it is skipped and named, while a
    damaged body fails the document."""
    try:
        xml = package.read(name, required=False) if name else None
        return _Story(xml, _Links(package, name, depth)).lines if xml is not None else []
    except CorruptDocument:
        package.skip(name)
        return []


@dataclass
class _Links:
    """What a story's charts, SmartArt and imported chunks (w:altChunk) hold, read on demand."""

    package: Package
    part: str
    depth: int
    parts: dict[str, tuple[str, str]] | None = None

    def lines(self, kind: str, rid: str) -> list[str]:
        if self.parts is None:
            self.parts = self.package.related(self.part)
        part_kind, name = self.parts.get(rid, ("", ""))
        if not name or not self.package.first_visit(name):
            return []
        if kind == "chart" and part_kind == "chart":
            root = self.package.xml(name)
            return chart_lines(root) if root is not None else []
        if kind == "diagram" and part_kind == "diagramData":
            root = self.package.xml(name)
            return diagram_lines(root) if root is not None else []
        if kind == "altChunk" and part_kind == "aFChunk":
            try:
                data = self.package.read(name, required=False)
                return _chunk_lines(self.package, data, self.depth) if data else []
            except CorruptDocument:  # an imported chunk that is not what it claims
                self.package.skip(name, "imported chunk")
                return []
        return []


def _chunk_lines(package: Package, data: bytes, depth: int) -> list[str]:
    """An imported chunk: HTML, MHT, RTF, plain text or a whole Word document of its own."""
    if data.startswith(b"PK"):
        if depth >= _MAX_CHUNK_DEPTH:
            return []  # chunks inside chunks inside chunks: an attack, not a document
        inner = Package.open(data, package.limits, _LABEL, ".docx", package.budget)
        inner.skipped = package.skipped  # what the chunk skips, the host names
        return _document_lines(inner, depth + 1)
    head = data[:2048].lstrip().lower()
    if head.startswith(b"{\\rtf"):
        text = rtf_text(data, package.limits.max_text_chars + 1)
    elif b"mime-version:" in head or head.startswith(b"content-type:"):
        text = _mht_text(data)
    elif head.startswith(b"<"):
        text = html_to_text(decode_text(data, declared=declared_charset(data)))
    else:
        text = decode_text(data)
    return text.strip("\n").split("\n") if text.strip() else []


def _mht_text(data: bytes) -> str:
    """The HTML page of a web archive (MHT), as text."""
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                charset = part.get_content_charset() or declared_charset(payload)
                return html_to_text(decode_text(payload, declared=charset))
    return ""


@dataclass
class _Block:
    """An open paragraph, table, row, cell, note or comment while the XML streams past."""

    kind: str
    parts: list[str] = field(default_factory=list)  # a paragraph's runs; a row's cells
    lines: list[str] = field(default_factory=list)  # finished lines placed inside this block
    hidden: bool = False  # a cell that continues a vertical merge shows nothing
    author: str = ""


class _Story:
    """The lines of one XML part (body, header, footer, notes, comments), in reading order."""

    def __init__(self, xml: bytes, links: _Links) -> None:
        self.links = links
        self.lines: list[str] = []
        self.section_references: list[tuple[str, str]] = []
        try:
            self._read(iter_xml(xml, _TAGS))
        except etree.XMLSyntaxError as exc:
            raise CorruptDocument(
                "The Word document's text could not be read: its XML is damaged or was built "
                "to attack XML readers. Try saving it again from Word."
            ) from exc

    def _read(self, events: Iterator[tuple[str, etree._Element]]) -> None:
        open_blocks: list[_Block] = []
        skipping = 0
        for event, element in events:
            role = _ROLES[element.tag]  # one lookup per event: this loop is the hot path
            if role is _Role.REFERENCE:  # read even inside a paragraph's properties
                if event == "end":
                    kind = etree.QName(element.tag).localname
                    self.section_references.append((kind, _attribute(element, _R_ID)))
            elif role is _Role.SKIP:
                skipping += 1 if event == "start" else -1
            elif skipping:
                continue
            elif role is _Role.LINK:
                if event == "end":
                    kind, names = _LINKS[element.tag]
                    found = self.links.lines(kind, _attribute(element, names))
                    (open_blocks[-1].lines if open_blocks else self.lines).extend(found)
            elif event == "start":
                if role is _Role.BLOCK:
                    kind = _BLOCK_KINDS[element.tag]
                    author = _attribute(element, _W_AUTHOR) if kind == "note" else ""
                    open_blocks.append(_Block(kind, author=author))
            elif not open_blocks:
                continue
            elif role is _Role.TEXT:
                open_blocks[-1].parts.append(element.text or "")
            elif role is _Role.CHARACTER:
                open_blocks[-1].parts.append(_CHARACTERS[element.tag])
            elif role is _Role.MERGE:
                # A merge starts with val="restart"; later cells carry no val, or "continue".
                if _attribute(element, _W_VAL) in ("", "continue"):
                    open_blocks[-1].hidden = True
            else:
                self._close(open_blocks, element)

    def _close(self, open_blocks: list[_Block], element: etree._Element) -> None:
        block = open_blocks.pop()
        if block.kind == "p":
            finished = ["".join(block.parts), *block.lines]  # text boxes follow their anchor
        elif block.kind == "tc":
            words = (line.strip() for line in block.lines)
            text = "" if block.hidden else " ".join(word for word in words if word)
            if open_blocks and open_blocks[-1].kind == "tr":
                open_blocks[-1].parts.append(text)
                return
            finished = [text]
        elif block.kind == "tr":
            finished = ["\t".join(block.parts).rstrip("\t"), *block.lines]
        elif block.author:
            finished = [f"Comment ({block.author}): " + " ".join(block.lines)]
        else:
            finished = block.lines
        if open_blocks:
            open_blocks[-1].lines.extend(finished)
            return
        self.lines.extend(finished)
        # Top-level block done: free it and what came before it, so memory stays flat.
        element.clear()
        parent = element.getparent()
        while parent is not None and element.getprevious() is not None:
            del parent[0]


def _attribute(element: etree._Element, names: set[str]) -> str:
    for name in names:
        value = element.get(name)
        if value is not None:
            return value
    return ""
