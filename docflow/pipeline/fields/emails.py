"""E-mail addresses, lower-cased."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..types import Field
from .lines import windows

# The lookbehind anchors each try at the start of a run of address characters, so a long run
# without "@" (base64, hashes) is scanned once instead of once per starting position.
_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w%+-](?:[\w.%+-]{0,62}[\w%+-])?"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}(?![\w-])",
    re.IGNORECASE,
)


_AT = (re.compile("@"),)


def find_emails(text: str) -> Iterator[Field]:
    for low, high in windows(text, _AT, before=70, after=260):
        yield from _emails_in(text, low, high)


def _emails_in(text: str, low: int, high: int) -> Iterator[Field]:
    for match in _EMAIL.finditer(text, low, high):
        value = match.group()
        yield Field(
            name="email",
            value=value,
            normalized=value.lower(),
            start=match.start(),
            end=match.end(),
            confidence=0.95,
        )
