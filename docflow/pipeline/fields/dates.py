"""Dates: regex candidates in the common written shapes, each parsed by dateutil on its own.

dateutil never searches the whole text (fuzzy parsing finds "dates" in any number); it only
confirms and normalises a candidate the regex already cut out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from dateutil import parser as date_parser

from ..types import Field

MIN_YEAR, MAX_YEAR = 1900, 2100
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20|21)\d\d"
_NOT_BEFORE = r"(?<![\w./-])"  # not the tail of a version number, IP address or longer date
_NOT_AFTER = r"(?![\w]|[./-]\d)"
_DATE = re.compile(
    _NOT_BEFORE
    + r"(?:"
    + r"(?P<iso>\d{4}([-/.])(?:1[0-2]|0?[1-9])\2(?:[12]\d|3[01]|0?[1-9]))"
    + r"|(?P<numeric>(?:[12]\d|3[01]|0?[1-9])([-/.])(?:[12]\d|3[01]|0?[1-9])\4(?:\d{4}|\d\d))"
    + rf"|(?P<day_month>{_DAY}(?:\s+(?:of\s+)?|[-/]){_MONTH}(?:,?\s+|[-/])(?:{_YEAR}|\d\d))"
    + rf"|(?P<month_day>{_MONTH}\s+{_DAY},?\s+{_YEAR})"
    + r")"
    + _NOT_AFTER,
    re.IGNORECASE,
)


def find_dates(text: str, *, dayfirst: bool = True) -> Iterator[Field]:
    """Dates as ISO 8601 (YYYY-MM-DD). `dayfirst` settles 03/04/2024 (True: 3 April)."""
    for match in _DATE.finditer(text):
        value = match.group()
        kind = match.lastgroup
        if kind == "iso":
            parsed = _parse(value, dayfirst=False, yearfirst=True)
            confidence = 0.95
        elif kind == "numeric":
            parsed = _parse(value, dayfirst=dayfirst, yearfirst=False)
            confidence = 0.6 if _ambiguous(value) else 0.85
        else:
            parsed = _parse(value, dayfirst=dayfirst, yearfirst=False)
            confidence = 0.95
        if parsed is not None and MIN_YEAR <= parsed.year <= MAX_YEAR:
            yield Field(
                name="date",
                value=value,
                normalized=parsed.date().isoformat(),
                start=match.start(),
                end=match.end(),
                confidence=confidence,
            )


def _parse(value: str, *, dayfirst: bool, yearfirst: bool) -> datetime | None:
    try:
        return date_parser.parse(value, dayfirst=dayfirst, yearfirst=yearfirst)
    except (ValueError, OverflowError):  # ParserError is a ValueError
        return None


def _ambiguous(value: str) -> bool:
    """Both of the first two numbers could be the month, and they differ: 03/04 but not 13/04."""
    first, second = (int(part) for part in re.split(r"[-/.]", value)[:2])
    return first <= 12 and second <= 12 and first != second
