"""Excel workbooks (XLSX, XLSM, XLS): each sheet's name, then its rows with cells tab-separated.

kreuzberg reads the workbook (values as Excel shows them, dates included) and hands back one
table per non-empty sheet; its plain text separates cells with spaces, which loses the columns,
so the text is rebuilt from the tables. ODS is read by the ODF reader.
"""

from __future__ import annotations

from ..types import DetectedType, ExtractedText, Limits
from .office import run_kreuzberg
from .registry import register

_FORMATS = {
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel"),
    "xls": ("application/vnd.ms-excel", "Excel 97-2003 (.xls)"),
}


@register(*_FORMATS)
def extract_spreadsheet(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    mime_type, label = _FORMATS[detected.format]
    result = run_kreuzberg(data, detected.format, mime_type, label, limits)
    names = (result.metadata or {}).get("sheet_names") or []
    tables = {table.page_number: table.cells for table in result.tables}
    if not names or not set(tables) <= set(range(1, len(names) + 1)):
        return ExtractedText(text=result.content)  # sheets and tables do not line up: as is
    sheets = [(name, _rows(tables.get(number, []))) for number, name in enumerate(names, 1)]
    if not any(rows for _, rows in sheets):
        return ExtractedText(text="")  # sheet names alone are not content: the file is empty
    return ExtractedText(text="\n\n".join("\n".join([name, *rows]) for name, rows in sheets))


def _rows(cells: list[list[str]]) -> list[str]:
    rows = []
    for row in cells:
        # A cell's own line breaks would split its row; spaces keep the row on one line.
        line = "\t".join(" ".join(cell.split("\n")) for cell in row).rstrip("\t ")
        if line:
            rows.append(line)
    return rows
