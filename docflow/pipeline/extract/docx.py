"""Word (DOCX) text, streamed from the package's XML: every story a reader of the file sees.

Headers, then the body (paragraphs, tables row by row with cells tab-separated, text boxes and
shapes right after the paragraph that anchors them, content controls, tracked insertions), then
footnotes, endnotes and comments, then footers. The XML is streamed with lxml's iterparse
(finished body blocks are freed at once), which reads a 900-page document in a fraction of
the time a full object model takes and in flat memory.
"""

from __future__ import annotations

import enum
import posixpath
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from ..errors import CorruptDocument, EncryptedDocument, UnsupportedFormat
from ..types import DetectedType, ExtractedText, Limits
from .registry import register
from .safe_xml import iter_xml, parse_xml
from .safe_zip import UnpackBudget, open_zip, read_member

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
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
_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


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
_TAGS = tuple(_ROLES)
_W_VAL = _w("val")
_W_AUTHOR = _w("author")
_R_ID = {f"{{{ns}}}id" for ns in _R}


@register("docx")
def extract_docx(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    package = _Package.open(data, limits)
    main = package.main_document()
    parts = package.related(main)
    body = _Story(package.read(main) or b"")
    header_ids = [rid for kind, rid in body.section_references if kind == "headerReference"]
    footer_ids = [rid for kind, rid in body.section_references if kind == "footerReference"]
    lines = [
        *_distinct_stories(package, parts, header_ids),
        *body.lines,
        *package.story_lines(parts, "footnotes"),
        *package.story_lines(parts, "endnotes"),
        *package.story_lines(parts, "comments"),
        *_distinct_stories(package, parts, footer_ids),
    ]
    return ExtractedText(text="\n".join(lines))


def _distinct_stories(
    package: _Package, parts: dict[str, tuple[str, str]], ids: list[str]
) -> list[str]:
    """Header or footer texts in section order, each once (first page, odd and even repeat)."""
    seen: dict[str, None] = {}
    for rid in ids:
        xml = package.read(parts[rid][1], required=False) if rid in parts else None
        if xml is not None:
            text = "\n".join(_Story(xml).lines)
            if text.strip():
                seen[text] = None
    return list(seen)


@dataclass
class _Package:
    archive: zipfile.ZipFile
    limits: Limits
    budget: UnpackBudget

    @classmethod
    def open(cls, data: bytes, limits: Limits) -> _Package:
        if data.startswith(_OLE2_MAGIC):
            if "EncryptedPackage".encode("utf-16-le") in data:
                raise EncryptedDocument(
                    "The Word document is password-protected; remove the password and upload "
                    "it again."
                )
            raise UnsupportedFormat(
                "This is an old-style Word file inside a .docx name; save it as .docx or PDF."
            )
        return cls(open_zip(data, limits, _LABEL), limits, UnpackBudget.of(limits))

    def read(self, name: str, required: bool = True) -> bytes | None:
        """A part's bytes; a missing optional part (a header, the notes) is simply absent."""
        member = self._member(name)
        if member is None:
            if not required:
                return None
            raise CorruptDocument(
                f"The Word document is incomplete: its part {name!r} is missing. "
                "Try saving it again from Word."
            )
        return read_member(self.archive, member, self.limits, self.budget, _LABEL)

    def _member(self, name: str) -> zipfile.ZipInfo | None:
        # Package part names are case-insensitive and may be percent-encoded in links.
        for candidate in (name, urllib.parse.unquote(name)):
            if candidate in self.archive.NameToInfo:
                return self.archive.NameToInfo[candidate]
        lowered = urllib.parse.unquote(name).lower()
        return next((m for m in self.archive.infolist() if m.filename.lower() == lowered), None)

    def main_document(self) -> str:
        for kind, target in self.related("").values():
            if kind == "officeDocument":
                return target
        raise CorruptDocument(
            "The file is a zip package but holds no Word document; check that it really is a "
            ".docx, or save it again from Word."
        )

    def related(self, part: str) -> dict[str, tuple[str, str]]:
        """{relationship id: (kind, part name)} for the parts `part` points to."""
        folder, name = posixpath.split(part)
        rels_name = posixpath.join(folder, "_rels", name + ".rels")
        rels = self.read(rels_name, required=False)
        if rels is None:
            return {}
        try:
            root = parse_xml(rels)
        except etree.XMLSyntaxError as exc:
            raise CorruptDocument(
                "The Word document's internal links are damaged; try saving it again from Word."
            ) from exc
        found = {}
        for rel in root.iter(f"{{{_RELS_NS}}}Relationship"):
            if rel.get("TargetMode") == "External":
                continue  # a hyperlink or linked file: never fetched
            target = rel.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
            kind = rel.get("Type", "").rsplit("/", 1)[-1]
            found[rel.get("Id", "")] = (kind, posixpath.normpath(path))
        return found

    def story_lines(self, parts: dict[str, tuple[str, str]], kind: str) -> list[str]:
        lines: list[str] = []
        for part_kind, name in parts.values():
            xml = self.read(name, required=False) if part_kind == kind else None
            if xml is not None:
                lines.extend(_Story(xml).lines)
        return lines


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

    def __init__(self, xml: bytes) -> None:
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
