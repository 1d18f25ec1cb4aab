"""Bank and tax identifiers, each confirmed by its check digits with python-stdnum.

- IBAN: country code, check digits, account, often in groups of four; normalised compact.
- VAT ids: EU (and Northern Ireland "XI") numbers with their country prefix, UK "GB" numbers,
  Indian GSTINs, and a Polish NIP when a label ("NIP") announces it; normalised compact.
A candidate whose check digits fail is not reported: a typo'd IBAN is worse than none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum import iban as iban_number
from stdnum.eu import vat as eu_vat
from stdnum.gb import vat as gb_vat
from stdnum.in_ import gstin
from stdnum.pl import nip

from ..types import Field
from .lines import windows

_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ \u00a0]?[A-Z0-9]{4}){2,7}(?:[ \u00a0]?[A-Z0-9]{1,3})?"
    r"(?![A-Za-z0-9])"
)
_VAT_PREFIXES = ("AT|BE|BG|CY|CZ|DE|DK|EE|EL|ES|FI|FR|GB|HR|HU|IE|IT|LT|LU|LV|MT|NL|PL|PT|RO"
                 "|SE|SI|SK|XI")
_VAT = re.compile(
    r"(?<![A-Za-z0-9])(?:(?P<prefixed>(?:" + _VAT_PREFIXES + r")[ \u00a0]?[0-9A-Z]"
    r"(?:[ .\u00a0]?[0-9A-Z+*]){7,13})"
    r"|(?P<gstin>\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z])"
    r"|(?:NIP|nip)[:.]?[ \u00a0]*(?P<nip>\d{3}-?\d{3}-?\d{2}-?\d{2}|\d{10}))(?![A-Za-z0-9])"
)


# Two capitals then a digit start every IBAN and prefixed VAT number, and sit inside every
# GSTIN ("06AABCO6063D1ZQ"): one cheap scan finds where all of them can be. The scan looks for
# digits and then behind them, since a pattern that starts with a class skips ahead fast.
_ANCHORS = (
    re.compile(r"\d(?:(?<=[A-Z]{2}\d)|(?<=[A-Z]{2}[ \u00a0]\d)|(?<=[A-Z]{3}\d)"
               r"|(?<=[A-Z]{2}[ \u00a0][A-Z]\d))"),
    "NIP", "nip", "Nip",
)


def find_ibans(text: str) -> Iterator[Field]:
    for low, high in windows(text, _ANCHORS, before=20, after=48):
        yield from _ibans_in(text, low, high)


def find_ids(text: str) -> Iterator[Field]:
    """IBANs and VAT ids together, from one scan of the text (what extract_fields uses)."""
    for low, high in windows(text, _ANCHORS, before=20, after=48):
        yield from _ibans_in(text, low, high)
        yield from _vat_ids_in(text, low, high)


def _ibans_in(text: str, low: int, high: int) -> Iterator[Field]:
    for match in _IBAN.finditer(text, low, high):
        value = match.group().rstrip()
        if iban_number.is_valid(value):
            yield Field("iban", value, iban_number.compact(value), match.start(),
                        match.start() + len(value), 0.99)


def find_vat_ids(text: str) -> Iterator[Field]:
    for low, high in windows(text, _ANCHORS, before=20, after=48):
        yield from _vat_ids_in(text, low, high)


def _vat_ids_in(text: str, low: int, high: int) -> Iterator[Field]:
    for match in _VAT.finditer(text, low, high):
        if match.group("prefixed"):
            value, start = match.group("prefixed"), match.start("prefixed")
            if sum(char.isdigit() for char in value) < 6:
                continue  # every EU/UK VAT number has at least 7 digits after its prefix
            normalized = _valid_vat(value)
            while normalized is None and re.search(r"[ .\u00a0]", value[4:]):
                value = re.split(r"[ .\u00a0](?=[^ .\u00a0]*$)", value)[0]  # drop a swallowed word
                normalized = _valid_vat(value)
            if normalized is None:
                continue
        elif match.group("gstin"):
            value, start = match.group("gstin"), match.start("gstin")
            if not gstin.is_valid(value):
                continue
            normalized = gstin.compact(value)
        else:
            value, start = match.group("nip"), match.start("nip")
            if not nip.is_valid(value):
                continue
            normalized = "PL" + nip.compact(value)
        yield Field("vat_id", value, normalized, start, start + len(value), 0.95)


def _valid_vat(value: str) -> str | None:
    compact = re.sub(r"[ .\u00a0]", "", value).upper()
    if compact.startswith("GB"):
        return compact if gb_vat.is_valid(compact) else None
    return eu_vat.compact(compact) if eu_vat.is_valid(compact) else None
