"""Excel 97-2003 and older (.xls), read by xlrd: the default password, cells as Excel shows them.

Excel encrypts a workbook whose sheets are only write-protected with the password it knows,
"VelvetSweatshop", and opens it without asking; LibreOffice does the same. Such a file is not
`encrypted` for the user, so it is decrypted here (msoffcrypto-tool) and read as any other.
xlrd reads every BIFF version from 2 to 8 (kreuzberg, which read .xls before, reads no BIFF2-4
worksheet and some BIFF5 files not at all, and shows no number formats); the workbook stream
is taken out of the OLE2 file by docflow's bounded reader (ole2.read_stream), as xlrd's own
follows a damaged sector chain for minutes. The text: each sheet's name, then its rows with
cells tab-separated; each cell shows as Excel shows it, drawn through its number format
("19-Aug-04", "270.650", "12.50%"; see `number_format`).
"""

from __future__ import annotations

import io

from ..errors import CorruptDocument, EncryptedDocument
from ..ole2 import open_ole, read_stream
from .number_format import shown

_DEFAULT_PASSWORD = "VelvetSweatshop"  # Excel's own, for workbooks protected against writing
_LABEL = "Excel 97-2003 (.xls)"
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_LOCALE_DATES = {14: "m/d/yyyy", 22: "m/d/yyyy h:mm"}  # xlrd's table has two-digit years


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
        book = xlrd.open_workbook(file_contents=_workbook_stream(data), logfile=io.StringIO(),
                                  on_demand=False, formatting_info=True)
    except xlrd.XLRDError as exc:
        if "encrypted" in str(exc).lower():
            raise EncryptedDocument(
                f"The {_LABEL} file is password-protected; remove the password and upload it "
                "again."
            ) from exc
        raise CorruptDocument(_damaged()) from exc
    except Exception as exc:  # xlrd trips over damaged records in many ways (IndexError, ...)
        raise CorruptDocument(_damaged()) from exc
    formats = _cell_formats(book)
    sheets = []
    for sheet in book.sheets():
        rows = []
        for number in range(sheet.nrows):
            cells = [_shown(cell, formats, book.datemode) for cell in sheet.row(number)]
            line = "\t".join(" ".join(cell.split()) for cell in cells).rstrip("\t ")
            if line:
                rows.append(line)
        if rows:
            sheets.append("\n".join([sheet.name, *rows]))
    return "\n\n".join(sheets)


def _workbook_stream(data: bytes) -> bytes:
    """The BIFF records xlrd reads: an OLE2 file's Workbook (or Book) stream, read through
    docflow's bounded OLE2 reader (xlrd's own follows a damaged sector chain for minutes), or
    `data` itself when it is a bare record stream."""
    if not data.startswith(OLE2_SIGNATURE):
        return data
    try:
        ole = open_ole(data)
        for entry in ole.listdir(streams=True, storages=False):
            if len(entry) == 1 and entry[0].lower() in ("workbook", "book"):
                return read_stream(ole, entry, len(data))
    except Exception as exc:  # olefile and the size check reject a damaged file many ways
        raise CorruptDocument(_damaged()) from exc
    raise CorruptDocument(_damaged())


def _cell_formats(book: object) -> list[str]:
    """Each XF record's number format, by XF index ("General" where a link is broken)."""
    import xlrd  # noqa: PLC0415

    names = {}
    for key, fmt in book.format_map.items():  # type: ignore[attr-defined]
        if key in _LOCALE_DATES or (not fmt.format_str and fmt.type == xlrd.formatting.FDT):
            # Built-in dates follow the reader's locale; US English has four-digit years
            names[key] = _LOCALE_DATES.get(key, "m/d/yyyy")
        else:
            names[key] = fmt.format_str or "General"
    return [names.get(xf.format_key, "General") for xf in book.xf_list]  # type: ignore[attr-defined]


def _shown(cell: object, formats: list[str], datemode: int) -> str:
    import xlrd  # noqa: PLC0415

    kind, value = cell.ctype, cell.value  # type: ignore[attr-defined]
    if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return ""
    if kind == xlrd.XL_CELL_BOOLEAN:
        return "TRUE" if value else "FALSE"
    if kind == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERR")
    index = cell.xf_index  # type: ignore[attr-defined]
    number_format = formats[index] if index is not None and index < len(formats) else "General"
    return shown(value, number_format, date1904=datemode == 1)


def _damaged() -> str:
    return (
        f"The {_LABEL} file could not be read; it may be damaged or incomplete. "
        "Try saving it again from Excel."
    )
