"""Excel workbooks (XLSX, XLSM, XLS): each sheet's name, then its rows with cells tab-separated.

kreuzberg reads the workbook (values as Excel shows them, dates included) and hands back one
table per non-empty sheet; its plain text separates cells with spaces, which loses the columns,
so the text is rebuilt from the tables. kreuzberg skips what a sheet holds beside its cells, so
for XLSX our own reader adds, after each sheet's rows, its cell comments ("Comment (A1, Rita):
..."), its text boxes and shapes, and its charts' titles, series names and categories (their
values are the cells'). Numbers are shown as Excel's General format shows them (15 significant
digits, not the 17 of a float's repr). An .xls is read by xlrd first, which draws each cell
through its number format as Excel does ("19-Aug-04", not "2004-08-19 00:00:00"; see
`legacy_xls`), and by kreuzberg where xlrd fails. ODS is read by the ODF reader.
"""

from __future__ import annotations

import re

from lxml import etree

from ..errors import CorruptDocument
from ..types import DetectedType, ExtractedText, Limits
from .drawingml import (
    A_P,
    CHART_REFERENCE,
    DIAGRAM_REFERENCE,
    chart_lines,
    diagram_lines,
    paragraph_text,
)
from .legacy_xls import xls_text
from .number_format import general_number
from .office import run_kreuzberg
from .ooxml import Package
from .registry import register

_FORMATS = {
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel"),
    "xls": ("application/vnd.ms-excel", "Excel 97-2003 (.xls)"),
}


# A float's repr with more than Excel's 15 significant digits ("0.2000099999999918")
_LONG_FLOAT = re.compile(r"-?(\d+)\.(\d+)")


@register(*_FORMATS)
def extract_spreadsheet(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    if detected.format != "xls":
        return kreuzberg_text(data, detected, limits)
    # xlrd alone: on the 65 real .xls files of bench/gather_legacy.py kreuzberg read none that
    # xlrd could not, and fuzzing found 2 KB workbooks xlrd refuses that drive kreuzberg past
    # 3 GB of memory.
    return ExtractedText(text=xls_text(data))


def kreuzberg_text(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    """The workbook as kreuzberg reads it, sheet by sheet, with what it leaves out of XLSX."""
    mime_type, label = _FORMATS[detected.format]
    result = run_kreuzberg(data, detected.format, mime_type, label, limits)
    skipped: list[str] = []
    extras = _sheet_extras(data, limits, skipped) if detected.format == "xlsx" else {}
    names = (result.metadata or {}).get("sheet_names") or []
    tables = {table.page_number: table.cells for table in result.tables}
    if not names or not set(tables) <= set(range(1, len(names) + 1)):
        # Sheets and tables do not line up: kreuzberg's text as is, then what it leaves out.
        rest = [line for lines in extras.values() for line in lines]
        text = "\n\n".join(part for part in (result.content, *rest) if part)
        return ExtractedText(text=text, skipped=skipped)
    sheets = [
        (name, [*_rows(tables.get(number, [])), *extras.pop(name, [])])
        for number, name in enumerate(names, 1)
    ]
    sheets.extend(extras.items())  # chart sheets: kreuzberg does not list them
    if not any(rows for _, rows in sheets):
        # sheet names alone are not content: the file is empty
        return ExtractedText(text="", skipped=skipped)
    text = "\n\n".join("\n".join([name, *rows]) for name, rows in sheets)
    return ExtractedText(text=text, skipped=skipped)


def _rows(cells: list[list[str]]) -> list[str]:
    rows = []
    for row in cells:
        # A cell's own line breaks would split its row; spaces keep the row on one line.
        line = "\t".join(" ".join(_shown(cell).split("\n")) for cell in row).rstrip("\t ")
        if line:
            rows.append(line)
    return rows


def _shown(cell: str) -> str:
    match = _LONG_FLOAT.fullmatch(cell)
    if match and len((match[1] + match[2]).lstrip("0")) > 15:
        return general_number(float(cell))
    return cell


_S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_SHEET, _COMMENT, _AUTHOR = f"{{{_S}}}sheet", f"{{{_S}}}comment", f"{{{_S}}}author"
_S_T = f"{{{_S}}}t"
_TEXT_BODY = f"{{{_XDR}}}txBody"
_R_ID, _R_DM = f"{{{_R}}}id", f"{{{_R}}}dm"


def _sheet_extras(data: bytes, limits: Limits, skipped: list[str]) -> dict[str, list[str]]:
    """{sheet name: lines of its comments, shapes and charts}, for the sheets that have any;
    parts that could not be read are named in `skipped`. The cells are kreuzberg's, so a
    package ours cannot follow costs these extras only."""
    try:
        return _extras(data, limits, skipped)
    except CorruptDocument:
        skipped.append("The workbook's comments, text boxes and charts could not be read; "
                       "its cells were.")
        return {}


def _extras(data: bytes, limits: Limits, skipped: list[str]) -> dict[str, list[str]]:
    package = Package.open(data, limits, "Excel", ".xlsx")
    package.skipped = skipped
    main = package.main_document()
    workbook = package.xml(main)
    if workbook is None:
        return {}
    parts = package.related(main)
    extras: dict[str, list[str]] = {}
    for sheet in workbook.iter(_SHEET):
        kind, name = parts.get(sheet.get(_R_ID, ""), ("", ""))
        if not kind.endswith("sheet"):  # worksheet, chartsheet, dialogsheet
            continue
        # Each part once, however many sheets link it. Comments belong to cells, so they come
        # before the drawing layer.
        links = [(kind, part) for kind, part in package.related(name).values()
                 if kind in ("comments", "drawing") and package.first_visit(part)]
        lines = [
            *(line for kind, part in links if kind == "comments"
              for line in _comment_lines(package.xml(part))),
            *(line for kind, part in links if kind == "drawing"
              for line in _drawing_lines(package, part)),
        ]
        if lines:
            extras[sheet.get("name", "")] = lines
    return extras


def _comment_lines(root: etree._Element | None) -> list[str]:
    if root is None:
        return []
    authors = ["".join(author.itertext()) for author in root.iter(_AUTHOR)]
    lines = []
    for comment in root.iter(_COMMENT):
        text = " ".join("".join(t.text or "" for t in comment.iter(_S_T)).split())
        try:
            author = authors[int(comment.get("authorId", ""))]
        except (ValueError, IndexError):
            author = ""
        who = ", ".join(part for part in (comment.get("ref", ""), author) if part)
        if text:
            lines.append(f"Comment ({who}): {text}" if who else f"Comment: {text}")
    return lines


def _drawing_lines(package: Package, drawing: str) -> list[str]:
    """Text boxes, charts and SmartArt on a sheet's drawing layer, in the order drawn."""
    root = package.xml(drawing)
    if root is None:
        return []
    for fallback in list(root.iter(_MC_FALLBACK)):  # the copy for old readers: read once
        fallback.getparent().remove(fallback)
    links = package.related(drawing)
    lines: list[str] = []
    for element in root.iter(_TEXT_BODY, CHART_REFERENCE, DIAGRAM_REFERENCE):
        if element.tag == _TEXT_BODY:
            lines.extend(paragraph_text(p) for p in element.iter(A_P))
            continue
        rid = element.get(_R_ID if element.tag == CHART_REFERENCE else _R_DM, "")
        first = rid in links and package.first_visit(links[rid][1])
        linked = package.xml(links[rid][1]) if first else None
        if linked is not None and element.tag == CHART_REFERENCE:
            lines.extend(chart_lines(linked, values=False))
        elif linked is not None:
            lines.extend(diagram_lines(linked))
    return [line for line in lines if line.strip()]
