"""Who issued an invoice or receipt: the company name at the top, and its address below it.

The name is the first header line with a legal form ("SDN BHD", "Ltd", "B.V."), else with a
trade word ("HARDWARE", "CAFE"), joined with the line above or below when the name was broken
across them and without the registration number printed after it. The address is the run of
address-like lines under the name, up to the first phone, tax, date or registration line.
"""

from __future__ import annotations

import re

from ..types import Field
from .lines import Line, collapse, line_index_at

HEADER_LINES = 12  # the issuer's name and address sit at the top

# A legal form names a company outright; a trade word ("hardware", "cafe") only hints at one.
_LEGAL_FORM = re.compile(
    r"(?:\bsdn\.?\s*bhd\b|\bbhd\b|\bs/b\b|\bltd\b|\blimited\b|\bllc\b|\bl\.l\.c\b|\binc\b"
    r"|\bincorporated\b|\bgmbh\b|\bb\.\s?v\b|\bn\.\s?v\b|\bs\.a\.s?\b|\bsarl\b|\bs\.r\.l\b"
    r"|\bag\b|\bplc\b|\bcorp\b|\bcorporation\b|\bplt\b|\bpvt\b|\bsp\.?\s*z\s*o\.?\s*o\b"
    r"|\bspółka\b)\.?",
    re.IGNORECASE,
)
_TRADE_WORD = re.compile(
    r"\b(?:enterprise|trading|co|company|restaurant|restoran|store|stores|mart|supermarket"
    r"|hypermarket|minimarket|hardware|bakery|cafe|café|pharmacy|farmasi|industries|holdings"
    r"|group|services|kedai|perniagaan|pasar|pasaraya|stationery|bookstore|kitchen|food"
    r"|electrical|marketing|station|motor|auto|shop|boutique|hotel|clinic)\b",
    re.IGNORECASE,
)
_NAME_CONTINUES = re.compile(  # a line that only finishes the name begun on the line above
    r"^(?:\(|&|sdn|bhd|s/b|co\b|co\.|company|ltd|limited|inc|llc|enterprise|trading"
    r"|\(m\)|corporation)",
    re.IGNORECASE,
)
_TRAILING_ID = re.compile(r"\s*\(?[A-Z0-9]*\d[\w.-]*-?[A-Z]?\)?\s*$")  # "(519537-X)"
_NOT_NAME = re.compile(
    r"^(?:tax\s*)?(?:invoice|receipt|bill|cash\s*(?:bill|sales?)|official\s*receipt|welcome"
    r"|tel|fax|phone|date|gst|vat|page|original|copy|customer|to:|from:|bill\s*to|ship\s*to"
    r"|company\s*(?:reg|no)|co\.?\s*(?:reg|no)|reg\b|roc\b|br\s*no|\(co)\b",
    re.IGNORECASE,
)
_REGISTRATION = re.compile(
    r"^\(?\s*(?:(?:co|company|roc|br|business|reg\w*|gst|sst)\.?\s*(?:reg\w*|no|id)?\.?"
    r"\s*[:.]?\s*)?[\w./-]*\d[\w./-]*\s*\)?$|^\(.*\)$"
    r"|\b(?:co|company|roc|br|business)\.?\s*(?:reg\w*|no)\b",
    re.IGNORECASE,
)
_ADDRESS_STOP = re.compile(
    r"\b(?:tel|fax|phone|ph|h/p|hp|mobile|gst|vat|e-?mail|website|www|invoice|receipt|date"
    r"|cashier|cash|bill|co\.?\s*reg|company\s*reg|reg\.?\s*no|business\s*reg|abn|ssm|roc"
    r"|br\s*no|company\s*no|telephone|tax|document|outlet|careline|hotline|order|table)\b"
    r"|taxinvoice|@|^[\d\s()+/-]{6,}$"
    r"|\b\d{1,2}[:.]\d{2}(?::\d{2})?\s*(?:am|pm)?\b",
    re.IGNORECASE,
)
_ADDRESS_START = re.compile(
    r"\d.*(?:,|\b(?:jalan|jln|taman|lorong|road|rd|street|st|avenue|ave|lane|drive|floor|flr"
    r"|suite|block|blk|lot|no|kg|kampung|bandar|batu|plaza|mall|building|straße|strasse|rue"
    r"|weg|laan|straat)\b)|\b(?:jalan|jln|lot|no\.?|level|block|blk|unit)\s*[:.]?\s*\d",
    re.IGNORECASE,
)


def find_vendor(text: str, lines: list[Line]) -> Field | None:
    """The issuer's name: the first header line with a legal form, else with a trade word,
    joined with the line above or below when the name was broken across them."""
    header = lines[:HEADER_LINES]
    for pattern, confidence in ((_LEGAL_FORM, 0.8), (_TRADE_WORD, 0.6)):
        for index, line in enumerate(header):
            if not pattern.search(line.text) or _NOT_NAME.search(line.text) or \
                    sum(c.isalpha() for c in line.text) < 3:
                continue
            first, last = index, index
            if index > 0 and _NAME_CONTINUES.match(line.text) and _name_like(header[index - 1]):
                first = index - 1
            if line.text.endswith(("&", "-", " AND")) and index + 1 < len(header):
                last = index + 1
            return _name_field(text, lines[first].start, lines[last].end, confidence)
    for line in header[:5]:
        if _name_like(line):
            return _name_field(text, line.start, line.end, 0.4)
    return None


def _name_like(line: Line) -> bool:
    letters = sum(c.isalpha() for c in line.text)
    return letters >= 3 and letters >= 0.6 * len(line.text) and not _NOT_NAME.search(line.text)


def _name_field(text: str, start: int, end: int, confidence: float) -> Field:
    value = text[start:end]
    trailing = _TRAILING_ID.search(value)  # the registration number printed after the name
    if trailing and trailing.start() > 0 and re.search(r"\d", trailing.group()):
        value = value[: trailing.start()].rstrip()
    return Field("vendor", value, collapse(value), start, start + len(value), confidence)


def find_address(text: str, lines: list[Line], vendor: Field) -> Field | None:
    """Lines under the issuer's name that read like an address, up to a phone/tax/date line."""
    index = line_index_at(lines, vendor.end - 1) + 1
    taken: list[Line] = []
    for line in lines[index : index + 8]:
        if not taken:
            if _ADDRESS_START.search(line.text) and not _ADDRESS_STOP.search(line.text) \
                    and not _REGISTRATION.search(line.text):
                taken.append(line)
            elif len(taken) == 0 and line is lines[min(index + 3, len(lines) - 1)]:
                break  # no address within the first lines under the name
            continue
        if _ADDRESS_STOP.search(line.text) or _REGISTRATION.search(line.text):
            break
        taken.append(line)
    if not taken:
        return None
    start, end = taken[0].start, taken[-1].end
    value = text[start:end]
    confidence = 0.75 if len(taken) > 1 else 0.5
    return Field("address", value, collapse(value), start, end, confidence)
