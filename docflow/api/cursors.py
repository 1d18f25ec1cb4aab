"""Page cursors: opaque strings saying where the next (or previous) page of a listing starts.

A cursor holds the sort key of the row the page starts after (or ends before), the order, and
a fingerprint of the filters it was made for; it is refused (422) for any other listing, order
or filters, and anything that does not decode to exactly that is refused too, never a 500.
Nothing in it is secret: a made-up position only moves where a page starts, and the tenant's
filter applies whatever it says.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from docflow.api.errors import ApiError
from docflow.store.keyset import Key

VERSION = 1
# A path order's key holds a source_path (1,024 characters, up to 4 bytes each in UTF-8).
MAX_CURSOR_CHARS = 6000
MAX_TEXT_VALUE = 1024
CURSOR_HELP = ("Where the page starts: the `next_cursor` (or `prev_cursor`) of the page before. "
               "Send it with the same order and filters as that request (a cursor made for "
               "others is refused with 422 cursor_mismatch). Each page costs the same however "
               "deep it is: walk a long listing by cursor, not offset.")
_ALPHABET = re.compile(r"^[A-Za-z0-9_-]+$")


class KeyType:
    """How a key value travels in a cursor: as a text, or a time (ISO 8601, UTC)."""

    TEXT = "text"
    TIME = "time"


@dataclass(frozen=True)
class Cursor:
    key: Key
    before: bool  # the page ends right before `key` (a previous page); else starts after it


def _fingerprint(listing: str, filters: Mapping[str, Any]) -> str:
    canonical = json.dumps([listing, sorted((k, str(v)) for k, v in filters.items())],
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(listing: str, order: str, filters: Mapping[str, Any], key: Key, *,
                  before: bool = False) -> str:
    values = [v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v for v in key]
    payload = {"v": VERSION, "l": listing, "o": order, "f": _fingerprint(listing, filters),
               "d": "b" if before else "a", "k": values}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid(why: str) -> ApiError:
    return ApiError(422, "invalid_cursor", f"The cursor is not one this server made ({why}). "
                    "Use the next_cursor or prev_cursor of a page as it came, or start again "
                    "without a cursor.")


def decode_cursor(cursor: str, listing: str, order: str, filters: Mapping[str, Any],
                  key_types: Sequence[str]) -> Cursor:
    """The position in `cursor`, made for this listing, order and filters; else ApiError 422
    (invalid_cursor: not a cursor; cursor_mismatch: made for another order or filters)."""
    if len(cursor) > MAX_CURSOR_CHARS or not _ALPHABET.match(cursor):
        raise _invalid("not a cursor's length or characters")
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        payload = json.loads(raw.decode())
    except (binascii.Error, ValueError, RecursionError):
        raise _invalid("it does not decode") from None
    if not isinstance(payload, dict) or payload.get("v") != VERSION:
        raise _invalid("unknown version")
    if payload.get("l") != listing:
        raise ApiError(422, "cursor_mismatch", f"This cursor belongs to another listing "
                       f"({str(payload.get('l'))[:40]!r}), not {listing}.")
    if payload.get("o") != order:
        raise ApiError(422, "cursor_mismatch", f"This cursor was made for order="
                       f"{str(payload.get('o'))[:40]}, not order={order}: send the order of "
                       "the request that gave it, or start again without a cursor.")
    if payload.get("f") != _fingerprint(listing, filters):
        raise ApiError(422, "cursor_mismatch", "This cursor was made for other filters: send "
                       "the same filters as the request that gave it, or start again without "
                       "a cursor.")
    direction, values = payload.get("d"), payload.get("k")
    if direction not in ("a", "b") or not isinstance(values, list) \
            or len(values) != len(key_types):
        raise _invalid("its position is not one of this listing")
    return Cursor(tuple(_value(v, t) for v, t in zip(values, key_types, strict=True)),
                  before=direction == "b")


def _value(value: object, key_type: str) -> Any:
    if not isinstance(value, str) or len(value) > MAX_TEXT_VALUE or "\x00" in value:
        raise _invalid("a value of its position is not a text")
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") no database stores
        raise _invalid("a value of its position is not a text") from None
    if key_type == KeyType.TEXT:
        return value
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise _invalid("a time of its position has no zone")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or one past year 1..9999 in UTC
        raise _invalid("a time of its position is not a time") from None


def page_cursors(listing: str, order: str, filters: Mapping[str, Any], rows: Sequence[Any],
                 more_after: bool, more_before: bool,
                 key_of: Callable[[Any], Key]) -> tuple[str | None, str | None]:
    """The next and previous cursors of a page of `rows` (None where there is no such page)."""
    if not rows:
        return None, None
    after = encode_cursor(listing, order, filters, key_of(rows[-1])) if more_after else None
    before = encode_cursor(listing, order, filters, key_of(rows[0]),
                           before=True) if more_before else None
    return after, before
