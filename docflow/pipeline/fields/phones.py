"""Phone numbers: libphonenumber finds and validates them; E.164 is the normal form."""

from __future__ import annotations

from collections.abc import Iterator

import phonenumbers

from ..types import Field

DEFAULT_REGION = "US"
MAX_CANDIDATES = 5000  # libphonenumber tries every digit run; a table of numbers would take seconds


def find_phones(text: str, *, region: str = DEFAULT_REGION) -> Iterator[Field]:
    """Valid phone numbers; numbers without a country code are read as `region` numbers."""
    matcher = phonenumbers.PhoneNumberMatcher(
        text, region, leniency=phonenumbers.Leniency.VALID, max_tries=MAX_CANDIDATES
    )
    for match in matcher:
        international = match.raw_string.lstrip("(").startswith(("+", "00"))
        yield Field(
            name="phone",
            value=match.raw_string,
            normalized=phonenumbers.format_number(
                match.number, phonenumbers.PhoneNumberFormat.E164
            ),
            start=match.start,
            end=match.end,
            confidence=0.9 if international else 0.8,
        )
