"""Dates: regex candidates in the common written shapes, each parsed by dateutil on its own.

dateutil never searches the whole text (fuzzy parsing finds "dates" in any number); it only
confirms and normalises a candidate the regex already cut out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from dateutil import parser as date_parser

from ..types import Field
from .lines import windows

MIN_YEAR, MAX_YEAR = 1900, 2100
# Month names of the languages invoices commonly come in, each mapped to its number, so a
# French "2 juillet 2015" or a German "7. Mai 2014" parses like "2 July 2015".
FOREIGN_MONTHS = {
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "decembre": 12,
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "maerz": 3, "juni": 6, "juli": 7,
    "oktober": 10, "dezember": 12,
    "januari": 1, "februari": 2, "maart": 3, "mei": 5, "augustus": 8,
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11,
    "diciembre": 12,
    "gennaio": 1, "febbraio": 2, "aprile": 4, "maggio": 5, "giugno": 6, "luglio": 7,
    "settembre": 9, "ottobre": 10, "dicembre": 12,
}
_FOREIGN = "|".join(sorted(FOREIGN_MONTHS, key=len, reverse=True))
_MONTH = (
    rf"(?:{_FOREIGN}|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?"
    r"|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ENGLISH = ["January", "February", "March", "April", "May", "June", "July", "August",
            "September", "October", "November", "December"]
_FOREIGN_WORD = re.compile(rf"(?<!\w)(?:{_FOREIGN})(?!\w)", re.IGNORECASE)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th|\.)?"
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
# Every date shape holds a 4-digit year, two separated numbers or a month and a 2-digit year.
_MONTH_ABBREVIATIONS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                        "Nov", "Dec"]
_ANCHORS = (  # a 4-digit year, "12/03/24", or a month name before a 2-digit year ("28 MAR 18")
    re.compile(r"(?:19|20|21)\d\d"),
    re.compile(r"\d[-/.]\d\d?[-/.]\d\d"),  # two separators: not every price "12.50"
    re.compile("(?:" + "|".join(_MONTH_ABBREVIATIONS + [m.upper() for m in _MONTH_ABBREVIATIONS])
               + r")[a-zA-Z]*\.?[\s-]\d\d(?!\d)"),
)


def find_dates(text: str, *, dayfirst: bool = True) -> Iterator[Field]:
    """Dates as ISO 8601 (YYYY-MM-DD). `dayfirst` settles 03/04/2024 (True: 3 April)."""
    for match in _matches(text):
        value = match.group()
        kind = match.lastgroup
        parsed = _quick(value, kind, dayfirst)
        if parsed is None:  # a shape the quick reader does not know: dateutil decides
            parsed = _parse(value, dayfirst=dayfirst and kind != "iso", yearfirst=kind == "iso")
        confidence = 0.95
        if kind == "numeric":  # 03/04/2024: which is the month is a convention, not a fact
            confidence = 0.6 if _ambiguous(value) else 0.85
        if parsed is not None and MIN_YEAR <= parsed.year <= MAX_YEAR:
            yield Field(
                name="date",
                value=value,
                normalized=parsed.isoformat(),
                start=match.start(),
                end=match.end(),
                confidence=confidence,
            )


def _matches(text: str) -> Iterator[re.Match[str]]:
    for low, high in windows(text, _ANCHORS, before=24, after=14):
        yield from _DATE.finditer(text, low, high)


_NUMBERS = re.compile(r"\d+")
_WORD = re.compile(r"[^\W\d_]+")
_MONTH_NUMBERS = {name.lower(): n for n, name in enumerate(_MONTH_ABBREVIATIONS, start=1)}


def _quick(value: str, kind: str | None, dayfirst: bool) -> date | None:
    """The regex already knows the shape; reading it directly is 20x faster than dateutil."""
    numbers = [int(n) for n in _NUMBERS.findall(value)]
    try:
        if kind == "iso":
            year, month, day = numbers
        elif kind == "numeric":
            first, second, year = numbers
            if len(_NUMBERS.findall(value)[2]) == 2:
                year = _full_year(year)
            day, month = (first, second) if dayfirst else (second, first)
            if month > 12 >= day:  # "13/04/24" read month-first: only one reading works
                day, month = month, day
        else:
            words = [w.lower() for w in _WORD.findall(value) if w.lower() not in _SUFFIXES]
            month = FOREIGN_MONTHS.get(words[0]) or _MONTH_NUMBERS[words[0][:3]]
            day, year = numbers[0], numbers[-1]
            if len(_NUMBERS.findall(value)[-1]) == 2:
                year = _full_year(year)
        return date(year, month, day)
    except (ValueError, KeyError, IndexError):
        return None


_SUFFIXES = frozenset({"st", "nd", "rd", "th", "of"})


def _full_year(two_digits: int) -> int:
    """Like dateutil: the year within 50 years of today that ends in these two digits."""
    this_year = date.today().year
    year = this_year // 100 * 100 + two_digits
    if year >= this_year + 50:
        year -= 100
    elif year < this_year - 50:
        year += 100
    return year


def _parse(value: str, *, dayfirst: bool, yearfirst: bool) -> date | None:
    value = _FOREIGN_WORD.sub(lambda m: _ENGLISH[FOREIGN_MONTHS[m.group().lower()] - 1], value)
    value = re.sub(r"^(\d{1,2})\.\s", r"\1 ", value)  # "7. Mai 2014"
    try:
        return date_parser.parse(value, dayfirst=dayfirst, yearfirst=yearfirst).date()
    except (ValueError, OverflowError):  # ParserError is a ValueError
        return None


def _ambiguous(value: str) -> bool:
    """Both of the first two numbers could be the month, and they differ: 03/04 but not 13/04."""
    first, second = (int(part) for part in re.split(r"[-/.]", value)[:2])
    return first <= 12 and second <= 12 and first != second
