"""Excel: beside each sheet's rows, its comments, text boxes and charts are read too."""

from __future__ import annotations

import io

import xlsxwriter

from docflow.pipeline import Limits, detect, extract

LIMITS = Limits()


def read(data: bytes) -> str:
    return extract(data, detect(data, "book.xlsx", LIMITS), LIMITS).text


def _workbook(chartsheet: bool = False) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("Data")
    for number, row in enumerate([["Region", "Sales"], ["East", 10], ["West", 20]]):
        sheet.write_row(number, 0, row)
    sheet.write_comment("A1", "Checked by finance", {"author": "Rita"})
    chart = book.add_chart({"type": "column"})
    chart.add_series(
        {"name": "=Data!$B$1", "categories": "=Data!$A$2:$A$3", "values": "=Data!$B$2:$B$3"}
    )
    chart.set_title({"name": "Sales by region"})
    if chartsheet:
        book.add_chartsheet("Chart view").set_chart(chart)
    else:
        sheet.insert_chart("D2", chart)
        sheet.insert_textbox("D20", "Figures are unaudited")
    book.close()
    return out.getvalue()


def test_comments_text_boxes_and_charts_follow_their_sheet_rows() -> None:
    assert read(_workbook()).split("\n") == [
        "Data",
        "Region\tSales",
        "East\t10",
        "West\t20",
        "Comment (A1, Rita): Checked by finance",
        "Sales by region",  # the chart: title, series name, categories (values are cells)
        "Sales",
        "East\tWest",
        "Figures are unaudited",
    ]


def test_a_chart_sheet_gives_its_chart_under_its_own_name() -> None:
    text = read(_workbook(chartsheet=True))
    assert text.endswith("Chart view\nSales by region\nSales\nEast\tWest")
