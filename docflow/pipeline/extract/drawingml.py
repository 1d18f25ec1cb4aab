"""Text in DrawingML parts shared by Word, PowerPoint and Excel: charts and SmartArt diagrams.

A chart gives its title, axis titles, then per series its name, its categories and its values
(one tab-separated line each), as the chart's own cache holds them. A SmartArt diagram gives
each node's text from its data part (the drawing part is a rendering of the same text).
"""

from __future__ import annotations

from lxml import etree

_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_C = "http://schemas.openxmlformats.org/drawingml/2006/chart"
_DGM = "http://schemas.openxmlformats.org/drawingml/2006/diagram"
A_P, A_T, A_BR = f"{{{_A}}}p", f"{{{_A}}}t", f"{{{_A}}}br"
_C_V, _C_PT, _C_EXT = f"{{{_C}}}v", f"{{{_C}}}pt", f"{{{_C}}}extLst"
_C_TX = f"{{{_C}}}tx"
_C_SERIES_DATA = {f"{{{_C}}}{name}" for name in ("cat", "val", "xVal", "yVal", "bubbleSize")}
_C_CATEGORIES = {f"{{{_C}}}{name}" for name in ("cat", "xVal")}
_DGM_T = f"{{{_DGM}}}t"
CHART_REFERENCE = f"{{{_C}}}chart"
DIAGRAM_REFERENCE = f"{{{_DGM}}}relIds"


def paragraph_text(paragraph: etree._Element) -> str:
    """A DrawingML paragraph (a:p): its runs and fields, line breaks kept."""
    parts = []
    for element in paragraph.iter(A_T, A_BR):
        parts.append(element.text or "" if element.tag == A_T else "\n")
    return "".join(parts)


def chart_lines(root: etree._Element, values: bool = True) -> list[str]:
    """The text of a chart part (c:chartSpace), in the order the chart is written; without
    the series' values where `values` is false (a workbook's cells already hold them)."""
    lines: list[str] = []
    _chart_walk(root, lines, _C_SERIES_DATA if values else _C_CATEGORIES)
    return [line for line in lines if line.strip()]


def _chart_walk(element: etree._Element, lines: list[str], data_tags: set[str]) -> None:
    for child in element:
        tag = child.tag
        if tag == _C_EXT or (tag in _C_SERIES_DATA and tag not in data_tags):
            continue  # extensions repeat ranges and labels kept elsewhere
        if tag in data_tags:
            points = sorted(child.iter(_C_PT), key=lambda pt: _index(pt))
            lines.append("\t".join(_point_value(pt) for pt in points))
        elif tag == A_P:
            lines.append(paragraph_text(child))
        elif tag == _C_TX:  # a series name or title given as a cell reference
            values = [v.text or "" for v in child.iter(_C_V)]
            if values:
                lines.append(" ".join(values))
            else:
                _chart_walk(child, lines, data_tags)
        elif isinstance(tag, str):
            _chart_walk(child, lines, data_tags)


def _index(point: etree._Element) -> int:
    try:
        return int(point.get("idx", "0"))
    except ValueError:
        return 0


def _point_value(point: etree._Element) -> str:
    value = point.find(_C_V)
    return (value.text or "") if value is not None else ""


def diagram_lines(root: etree._Element) -> list[str]:
    """The text of a SmartArt data part (dgm:dataModel): each node's paragraphs, in order."""
    lines = []
    for body in root.iter(_DGM_T):
        lines.extend(paragraph_text(p) for p in body.iter(A_P))
    return [line for line in lines if line.strip()]
