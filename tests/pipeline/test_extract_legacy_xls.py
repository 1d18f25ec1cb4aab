"""Old Excel files read as Excel shows them: the default password, BIFF2-4, number formats."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from docflow.pipeline import EncryptedDocument, Limits, detect, extract, process_document
from tests.fixtures_legacy import make_xls
from tests.fixtures_office import make_xlsx
from tests.fixtures_ole2 import excel_stream, make_compound_file

LIMITS = Limits()
DATA = Path(__file__).parent / "data"


def _record(kind: int, body: bytes) -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


def make_biff4_worksheet() -> bytes:
    """An Excel 4.0 worksheet as Excel 4 saved it: a bare BIFF4 record stream, no OLE2 file."""
    def label(row: int, col: int, text: str) -> bytes:
        raw = text.encode("latin-1")
        return _record(0x0204, struct.pack("<HHHH", row, col, 0, len(raw)) + raw)

    def number(row: int, col: int, value: float) -> bytes:
        return _record(0x0203, struct.pack("<HHHd", row, col, 0, value))

    return b"".join([
        _record(0x0409, struct.pack("<HHH", 0, 0x0010, 0)),  # BOF: BIFF4 worksheet
        _record(0x0200, struct.pack("<HHHHH", 0, 2, 0, 2, 0)),  # DIMENSIONS
        label(0, 0, "Product"), label(0, 1, "Price"),
        label(1, 0, "Kitten food"), number(1, 1, 4.25),
        _record(0x000A, b""),  # EOF
    ])


def test_an_excel_4_worksheet_is_detected_and_read() -> None:
    data = make_biff4_worksheet()
    detected = detect(data, "prices.xls", LIMITS)
    assert detected.format == "xls"
    text = extract(data, detected, LIMITS).text
    assert "Product\tPrice" in text
    assert "Kitten food\t4.25" in text


def test_a_bare_biff_stream_is_found_whatever_its_name() -> None:
    assert detect(make_biff4_worksheet(), "upload.bin", LIMITS).format == "xls"


def test_a_workbook_with_excels_default_password_opens_as_excel_opens_it() -> None:
    # A real file (oletools' test set, BSD-2-Clause; see data/README.md): encrypted with
    # "VelvetSweatshop", which Excel and LibreOffice use without asking anyone.
    data = (DATA / "excel-default-password.xls").read_bytes()
    result = process_document(data, "report.xls", LIMITS)
    assert "Long live open source!" in result.extracted.text
    assert "The above link starts a shell" in result.extracted.text


def test_a_workbook_with_a_password_of_its_own_is_still_encrypted() -> None:
    data = make_compound_file({"Workbook": excel_stream(encrypted=True)})
    with pytest.raises(EncryptedDocument):
        extract(data, detect(data, "secret.xls", LIMITS), LIMITS)


def test_numbers_show_as_excel_shows_them_not_as_a_floats_repr() -> None:
    # A sum's rounding error as a sheet stores it: Excel shows 15 significant digits.
    data = make_xlsx({"Levels": [["Chainage", "Level"], [0.2000099999999918, 265.5]]})
    text = extract(data, detect(data, "levels.xlsx", LIMITS), LIMITS).text
    assert "0.200009999999992\t265.5" in text


def test_an_xls_shows_each_cell_through_its_number_format() -> None:
    # A clerk's sheet: what Excel shows is what someone searches for, not the stored value
    data = make_xls([
        [(38218, "d-mmm-yy"), (270.65, "0.000"), (0.125, "0.00%")],
        [(-1234.5, '"$"#,##0.00_);[Red]\\("$"#,##0.00\\)'), (1234567, "#,##0"),
         (38218.75, "h:mm AM/PM")],
        [(3.5, "General"), (0.1 + 0.2, "General"), (0, '0;-0;"nil"')],
    ], sheet="Levels")
    text = extract(data, detect(data, "levels.xls", LIMITS), LIMITS).text
    assert text.split("\n") == [
        "Levels",
        "19-Aug-04\t270.650\t12.50%",
        "($1,234.50)\t1,234,567\t6:00 PM",
        "3.5\t0.3\tnil",
    ]
