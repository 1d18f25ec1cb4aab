"""Phone numbers: libphonenumber finds and validates them; E.164 is the normal form.

libphonenumber's matcher tries every digit run it sees, which costs milliseconds on a long
contract or a receipt full of barcodes; a cheap regex first cuts out the runs that could be
phone numbers (7 or more digits with the usual separators, not a date or an amount).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import phonenumbers

from ..types import Field

DEFAULT_REGION = "US"
MAX_CANDIDATES = 5000  # a table of numbers must not take seconds
_CONTEXT = 8  # characters around a candidate: "Tel." and "+" prefixes, closing brackets
# One line at most: numbers stacked in a receipt's column are not one phone number.
# It starts with a character class so the regex engine skips fast to the next digit or "+".
_CANDIDATE = re.compile(r"[+(\d][\d \t().\-/\u00a0]{5,25}\d(?!\w)")
_DATE_FIRST = re.compile(  # a date, maybe with its time: digit runs but no phone number
    r"\(?(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?:[ \t]|$)"
)
_AMOUNT = re.compile(r"\d+[.,]\d{1,2}")
_SEVERAL = re.compile(r"/|\s{2,}")  # "07-5547360 / 016-7993391": more than one number


def find_phones(text: str, *, region: str = DEFAULT_REGION) -> Iterator[Field]:
    """Valid phone numbers; numbers without a country code are read as `region` numbers.

    Each candidate is parsed whole first (one libphonenumber call); only a candidate that may
    hold several numbers goes through libphonenumber's matcher, which tries every sub-span.
    """
    budget = MAX_CANDIDATES
    for candidate in _CANDIDATE.finditer(text):
        raw = candidate.group()
        before = text[candidate.start() - 1] if candidate.start() else " "
        if before.isalnum() or before in "_+" or raw[0] == "(" and not raw[1:2].isdigit():
            continue
        digits = sum(char.isdigit() for char in raw)
        if not 7 <= digits <= 30 or _DATE_FIRST.match(raw) or _AMOUNT.fullmatch(raw):
            continue
        budget -= 1
        if budget < 0:
            return
        international = _international(raw)
        if not international and raw.isdigit() and digits > 10:
            continue  # an unbroken run of 11+ digits is a barcode or an account, not a phone
        if (
            not international
            and digits <= 17
            and digits not in _national_lengths(region)
            and not _SEVERAL.search(raw)
        ):
            continue  # cannot be a number of this region: spare libphonenumber the try
        number = _parse(raw, region) if digits <= 17 else None
        if number is not None:
            yield _field(raw, number, candidate.start())
        elif _SEVERAL.search(raw) or digits > 17:
            yield from _matched(text, candidate.start(), candidate.end(), region)


def _international(raw: str) -> bool:
    """"+44 ..." or "0044 ...": a country code follows (but "000849813504" is an id)."""
    head = raw.lstrip("(")
    return head.startswith("+") or (head.startswith("00") and head[2:3] not in ("", "0"))


@lru_cache(maxsize=64)
def _national_lengths(region: str) -> frozenset[int]:
    """Digit counts a number of `region` can have when written without its country code."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.general_desc is None:
        return frozenset(range(7, 18))
    lengths = set(metadata.general_desc.possible_length or range(7, 18))
    prefix = metadata.national_prefix or ""
    lengths |= {length + len(prefix) for length in lengths}
    country = str(metadata.country_code or "")
    lengths |= {length + len(country) for length in lengths}  # "1 650 253 0000" without "+"
    return frozenset(lengths)


def _parse(raw: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _matched(text: str, start: int, end: int, region: str) -> Iterator[Field]:
    low, high = max(0, start - _CONTEXT), min(len(text), end + _CONTEXT)
    matcher = phonenumbers.PhoneNumberMatcher(
        text[low:high], region, leniency=phonenumbers.Leniency.VALID, max_tries=50
    )
    for match in matcher:
        if low + match.start >= start - 1 and low + match.end <= end + 1:
            yield _field(match.raw_string, match.number, low + match.start)


def _field(raw: str, number: phonenumbers.PhoneNumber, start: int) -> Field:
    international = _international(raw)
    return Field(
        name="phone",
        value=raw,
        normalized=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        start=start,
        end=start + len(raw),
        confidence=0.9 if international else 0.8,
    )
