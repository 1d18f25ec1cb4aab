"""Key facts in a document's text: dates, amounts, e-mail addresses and phone numbers.

Each finder yields Fields with a normalised value and the span of its evidence; this module runs
them over a bounded prefix of the text and settles overlaps (a date is not also a phone number).
"""

from __future__ import annotations

from ..types import Field
from .dates import find_dates
from .emails import find_emails
from .money import find_money
from .phones import DEFAULT_REGION, find_phones

__all__ = ["SCAN_CHARS", "extract_fields", "find_dates", "find_emails", "find_money", "find_phones"]

SCAN_CHARS = 200_000  # key fields sit in the first pages; a 50 MB text must not take minutes
# When spans overlap, the more specific reading wins: an address's digits are not a phone.
_PRIORITY = {"email": 0, "date": 1, "amount": 2, "phone": 3}


def extract_fields(
    text: str, *, dayfirst: bool = True, region: str = DEFAULT_REGION, max_chars: int = SCAN_CHARS
) -> list[Field]:
    """All fields found in the first `max_chars` characters, in text order, without overlaps."""
    scanned = text[:max_chars]
    found = [
        *find_emails(scanned),
        *find_dates(scanned, dayfirst=dayfirst),
        *find_money(scanned),
        *find_phones(scanned, region=region),
    ]
    return _without_overlaps(found)


def _without_overlaps(fields: list[Field]) -> list[Field]:
    kept: list[Field] = []
    for candidate in sorted(fields, key=lambda f: (f.start, _PRIORITY[f.name], -f.end)):
        if kept and candidate.start < kept[-1].end:
            if _PRIORITY[candidate.name] < _PRIORITY[kept[-1].name]:
                kept[-1] = candidate  # the later-starting, more specific reading replaces it
            continue
        kept.append(candidate)
    return kept
