"""Excel 97-2003 and older (.xls) beside kreuzberg: the default password, and xlrd as second reader.

Excel encrypts a workbook whose sheets are only write-protected with the password it knows,
"VelvetSweatshop", and opens it without asking; LibreOffice does the same. Such a file is not
`encrypted` for the user, so it is decrypted here (msoffcrypto-tool) and read as any other.
kreuzberg (calamine) reads BIFF8 and most BIFF5 workbooks but no BIFF2-4 worksheet and some
BIFF5 files (Excel 4 macro sheets); xlrd reads every BIFF version from 2 to 8, so it reads what
kreuzberg fails on. Its text has the shape of the first reader's: each sheet's name, then its
rows with cells tab-separated, numbers as Excel's General format shows them (15 significant
digits), dates as ISO dates.
"""

from __future__ import annotations

import datetime
import io

from ..errors import CorruptDocument, EncryptedDocument

_DEFAULT_PASSWORD = "VelvetSweatshop"  # Excel's own, for workbooks protected against writing
_LABEL = "Excel 97-2003 (.xls)"


def without_default_password(data: bytes) -> bytes | None:
    """The workbook decrypted with Excel's default password, or None when it needs another
    (or is no encrypted workbook msoffcrypto-tool knows)."""
    import msoffcrypto  # noqa: PLC0415 - only encrypted workbooks need it

    try:
        office = msoffcrypto.OfficeFile(io.BytesIO(data))
        if not office.is_encrypted():
            return None
        office.load_key(password=_DEFAULT_PASSWORD)
        plain = io.BytesIO()
        office.decrypt(plain)
    except Exception:  # a wrong password, an unknown scheme, a damaged stream: all say "no"
        return None
    return plain.getvalue()


def xls_text(data: bytes) -> str:
    """Every sheet's name and rows, read by xlrd; CorruptDocument or EncryptedDocument."""
    import xlrd  # noqa: PLC0415 - the second reader, for the few files kreuzberg fails on

    try:
        book = xlrd.open_workbook(file_contents=data, logfile=io.StringIO(), on_demand=False)
    except xlrd.XLRDError as exc:
        if "encrypted" in str(exc).lower():
            raise EncryptedDocument(
                f"The {_LABEL} file is password-protected; remove the password and upload it "
                "again."
            ) from exc
        raise CorruptDocument(_damaged()) from exc
    except Exception as exc:  # xlrd trips over damaged records in many ways (IndexError, ...)
        raise CorruptDocument(_damaged()) from exc
    sheets = []
    for sheet in book.sheets():
        rows = []
        for number in range(sheet.nrows):
            cells = [_shown(cell, book.datemode) for cell in sheet.row(number)]
            line = "\t".join(" ".join(cell.split()) for cell in cells).rstrip("\t ")
            if line:
                rows.append(line)
        if rows:
            sheets.append("\n".join([sheet.name, *rows]))
    return "\n\n".join(sheets)


def general_number(value: float) -> str:
    """A number as Excel's General format shows it: an integer without ".0", anything else
    to 15 significant digits (what Excel keeps), so 0.1 + 0.2 shows as 0.3."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.15g}"


def _shown(cell: object, datemode: int) -> str:
    import xlrd  # noqa: PLC0415

    kind, value = cell.ctype, cell.value  # type: ignore[attr-defined]
    if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return ""
    if kind == xlrd.XL_CELL_NUMBER:
        return general_number(value)
    if kind == xlrd.XL_CELL_DATE:
        try:
            moment = xlrd.xldate_as_datetime(value, datemode)
        except (xlrd.xldate.XLDateError, OverflowError, ValueError):
            return general_number(value)
        if moment.time() == datetime.time(0):
            return moment.date().isoformat()
        return moment.isoformat(sep=" ")
    if kind == xlrd.XL_CELL_BOOLEAN:
        return "TRUE" if value else "FALSE"
    if kind == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERR")
    return str(value)


def _damaged() -> str:
    return (
        f"The {_LABEL} file could not be read; it may be damaged or incomplete. "
        "Try saving it again from Excel."
    )
