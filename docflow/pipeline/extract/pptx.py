"""PowerPoint (PPTX) text from the package's XML: every slide, in order, then its notes.

kreuzberg drops charts and SmartArt, so PPTX has its own reader. Each slide gives its shapes in
the order they are drawn (grouped shapes in place, tables row by row with cells tab-separated,
a chart's title, series, categories and values, SmartArt nodes), then its speaker notes and
comments. Text that the slide layouts and masters add to every slide (a company name, a footer
line) comes once at the end; their placeholders' prompt text ("Click to edit Master title
style") never does.
Of `mc:AlternateContent` only the first choice is read, so no shape is read twice.
"""

from __future__ import annotations

from lxml import etree

from ..errors import CorruptDocument, DocumentError
from ..types import DetectedType, ExtractedText, Limits
from .drawingml import (
    A_P,
    CHART_REFERENCE,
    DIAGRAM_REFERENCE,
    chart_lines,
    diagram_lines,
    paragraph_text,
)
from .office import run_kreuzberg
from .ooxml import Package
from .registry import register

_LABEL = "PowerPoint"
_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
_P = "http://schemas.openxmlformats.org/presentationml/2006/main"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def _p(name: str) -> str:
    return f"{{{_P}}}{name}"


_SHAPE_TREE = _p("spTree")
_GROUP = _p("grpSp")
_TEXT_BODY = _p("txBody")
_PLACEHOLDER = _p("ph")
_SLIDE_ID = _p("sldId")
_GRAPHIC_DATA = f"{{{_A}}}graphicData"
_TABLE, _ROW, _CELL = f"{{{_A}}}tbl", f"{{{_A}}}tr", f"{{{_A}}}tc"
_ALTERNATE, _CHOICE = f"{{{_MC}}}AlternateContent", f"{{{_MC}}}Choice"
_R_ID, _R_DM = f"{{{_R}}}id", f"{{{_R}}}dm"
# Placeholders whose text PowerPoint fills in itself: the slide number and the slide image.
_GENERATED = frozenset({"sldNum", "sldImg"})
_CLASSIC_COMMENT_TEXT = _p("text")
_MODERN_TEXT_BODY = "{http://schemas.microsoft.com/office/powerpoint/2018/8/main}txBody"


@register("pptx")
def extract_pptx(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    try:
        package = Package.open(data, limits, _LABEL, ".pptx")
        return ExtractedText(text=pptx_text(package), skipped=package.skipped)
    except CorruptDocument as ours:
        try:  # a package ours cannot follow: kreuzberg is more forgiving of broken links
            return ExtractedText(text=run_kreuzberg(data, "pptx", _MIME, _LABEL, limits).content)
        except DocumentError:
            raise ours from None


def pptx_text(package: Package) -> str:
    main = package.main_document()
    presentation = package.xml(main, strict=True)
    if presentation is None:  # missing
        raise CorruptDocument(
            "The PowerPoint file's slide list is damaged; try saving it again from PowerPoint."
        )
    parts = package.related(main)
    slides: list[str] = []
    shared: dict[str, None] = {}  # layout and master text, each once
    seen: set[str] = set()
    for slide_id in presentation.iter(_SLIDE_ID):
        kind, name = parts.get(slide_id.get(_R_ID, ""), ("", ""))
        if kind != "slide" or not package.first_visit(name):
            continue  # a slide listed twice is read once: a list of one slide repeated is an attack
        slide = _Part(package, name, what=f"slide {len(slides) + 1}")
        lines = slide.lines(placeholders=True)
        links = slide.links.values()
        for part_kind, related in links:
            if part_kind == "notesSlide" and package.first_visit(related):
                notes = _Part(package, related, what=f"notes of slide {len(slides) + 1}")
                lines.extend(notes.lines(placeholders=True))
        for part_kind, related in links:
            if part_kind == "comments" and package.first_visit(related):
                lines.extend(_comment_lines(package.xml(related)))
            elif part_kind == "slideLayout":
                _layout_text(package, related, seen, shared)
        slides.append("\n".join(lines))
    return "\n\n".join([*slides, *shared])


def _layout_text(package: Package, layout: str, seen: set[str], shared: dict[str, None]) -> None:
    """A layout's own text, then its master's, each part once: shown on every slide using it."""
    masters = [name for kind, name in package.related(layout).values() if kind == "slideMaster"]
    for name in (layout, *masters):
        if name not in seen:
            seen.add(name)
            text = "\n".join(_Part(package, name).lines(placeholders=False))
            if text.strip():
                shared[text] = None


class _Part:
    """A slide, notes page, layout or master, read whole (they are small)."""

    def __init__(self, package: Package, name: str, what: str = "part") -> None:
        self.package = package
        self.name = name
        self.root: etree._Element | None = None
        self.links: dict[str, tuple[str, str]] = {}
        try:  # a damaged slide is skipped and named; the deck's other slides are read
            self.root = package.xml(name, strict=True)
            self.links = package.related(name) if self.root is not None else {}
        except CorruptDocument:
            self.root = None
            package.skip(name, what)

    def lines(self, placeholders: bool) -> list[str]:
        lines: list[str] = []
        if self.root is not None:
            for tree in self.root.iter(_SHAPE_TREE):
                self._shapes(tree, lines, placeholders)
        return [line for line in lines if line.strip()]

    def _shapes(self, parent: etree._Element, lines: list[str], placeholders: bool) -> None:
        for shape in parent:
            tag = shape.tag
            if tag == _ALTERNATE:
                choice = shape.find(_CHOICE)
                if choice is not None:
                    self._shapes(choice, lines, placeholders)
            elif tag == _GROUP:
                self._shapes(shape, lines, placeholders)
            elif isinstance(tag, str):
                self._shape(shape, lines, placeholders)

    def _shape(self, shape: etree._Element, lines: list[str], placeholders: bool) -> None:
        placeholder = next(shape.iter(_PLACEHOLDER), None)
        if placeholder is not None and (
            not placeholders or placeholder.get("type") in _GENERATED
        ):
            return
        body = shape.find(_TEXT_BODY)
        if body is not None:
            lines.extend(paragraph_text(p) for p in body.iter(A_P))
        data = next(shape.iter(_GRAPHIC_DATA), None)
        if data is None:
            return
        for element in data:
            if element.tag == _TABLE:
                lines.extend(_table_lines(element))
            elif element.tag == CHART_REFERENCE:
                root = self._linked(element.get(_R_ID, ""))
                if root is not None:
                    lines.extend(chart_lines(root))
            elif element.tag == DIAGRAM_REFERENCE:
                root = self._linked(element.get(_R_DM, ""))
                if root is not None:
                    lines.extend(diagram_lines(root))

    def _linked(self, rid: str) -> etree._Element | None:
        if rid not in self.links or not self.package.first_visit(self.links[rid][1]):
            return None
        return self.package.xml(self.links[rid][1])


def _comment_lines(root: etree._Element | None) -> list[str]:
    """A slide's comments: the classic kind (p:cm, plain text) and the modern threaded kind
    (a text body per comment and reply)."""
    if root is None:
        return []
    lines = []
    for comment in root:
        if not isinstance(comment.tag, str):
            continue
        texts = [t.text or "" for t in comment.iter(_CLASSIC_COMMENT_TEXT)]
        # The comment's own text, then its replies (the file lists the replies first).
        bodies = sorted(comment.iter(_MODERN_TEXT_BODY), key=lambda b: b.getparent() is not comment)
        texts += [paragraph_text(p) for body in bodies for p in body.iter(A_P)]
        text = " ".join(" ".join(texts).split())
        if text:
            lines.append(f"Comment: {text}")
    return lines


def _table_lines(table: etree._Element) -> list[str]:
    rows = []
    for row in table.iter(_ROW):
        cells = []
        for cell in row.iter(_CELL):
            merged = cell.get("hMerge") == "1" or cell.get("vMerge") == "1"
            words = (paragraph_text(p).strip() for p in cell.iter(A_P))
            cells.append("" if merged else " ".join(word for word in words if word))
        rows.append("\t".join(cells).rstrip("\t"))
    return rows
