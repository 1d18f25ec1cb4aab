"""What people's field corrections teach: the label printed before a corrected value.

A person corrects a field (PATCH /api/documents/{id}). `label_field` finds where the value is
printed and the label words before it ("Balance to remit", "Rechnungsnummer"); the store keeps
them as a hint for the document's type and issuer. `LearnedFields.apply` then reads the value
printed after a learned label in later documents of that type, and takes it over the regex
reading when it is surer: a label learned from the same issuer always is; one learned from
other issuers only fills a field the rules did not find. Hints are plain data: no database.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from price_parser import Price

from ..types import Field
from .dates import find_dates
from .money import CODES, SYMBOLS
from .schema import SCHEMAS, FieldKind

SCAN_CHARS = 200_000  # as extract_fields: key fields sit in the first pages
LEARNABLE_KINDS = frozenset({FieldKind.MONEY, FieldKind.DATE, FieldKind.IDENTIFIER})
_KINDS = {spec.name: spec.kind for specs in SCHEMAS.values() for spec in specs}
ANCHOR_WORDS = 4  # the label is the last few words before the value
_VALUE_REACH = 40  # a value sits this close after its label on the same line
_ISSUER_HEADER = 1_500  # the issuer's name is printed near the top
_MIN_ISSUER_KEY = 5  # shorter names ("OYO") would match inside any header


@dataclass(frozen=True)
class Evidence:
    """Where a corrected value is printed, and the label words just before it."""

    start: int
    end: int
    anchor: str | None  # lower-case words, e.g. "balance to remit"; None: no label readable


@dataclass(frozen=True)
class FieldHint:
    """One label that corrections of a field taught, for a document type (and an issuer)."""

    doc_type: str
    field: str
    kind: str  # a FieldKind value: how to read the value after the label
    anchor: str
    issuer: str | None = None  # the issuer of the corrected documents, as printed; None: unknown
    count: int = 1  # corrected documents that taught it


def field_kind(name: str, value: str = "") -> FieldKind | None:
    """The kind of a schema field; for a field of the user's own, the kind its value reads as."""
    if name in _KINDS:
        return _KINDS[name]
    if value and any(field.value == value.strip() for field in find_dates(value)):
        return FieldKind.DATE
    if value and _money_match(value) is not None:
        return FieldKind.MONEY
    if re.search(r"\d", value):
        return FieldKind.IDENTIFIER
    return None


def issuer_key(name: str) -> str:
    """"GARDENIA BAKERIES (KL) SDN BHD" -> "gardeniabakeriesklsdnbhd": equal when printed alike."""
    return re.sub(r"[\W_]+", "", name.lower())


# --- finding a corrected value and its label -------------------------------------------------


def label_field(text: str, name: str, value: str, normalized: str = "") -> Evidence | None:
    """Where `value` (or `normalized`) is printed in `text`, preferring a place with a label
    before it; None when the value is not printed (the person typed something else)."""
    scanned = text[:SCAN_CHARS]
    spans = _occurrences(scanned, field_kind(name, value), value, normalized)
    for start, end in spans:
        anchor = anchor_before(scanned, start)
        if anchor is not None:
            return Evidence(start, end, anchor)
    return Evidence(spans[0][0], spans[0][1], None) if spans else None


def _occurrences(
    text: str, kind: FieldKind | None, value: str, normalized: str
) -> list[tuple[int, int]]:
    for literal in dict.fromkeys(item.strip() for item in (value, normalized)):
        if literal:
            spans = [match.span() for match in _literal(literal).finditer(text)]
            if spans:
                return spans
    if kind is FieldKind.MONEY:
        wanted = _decimal(normalized.split()[0] if normalized.strip() else value)
        return [(m.start(), m.end()) for m in _money_matches(text) if _amount_of(m) == wanted] \
            if wanted is not None else []
    if kind is FieldKind.DATE:
        iso = normalized.strip() or next((f.normalized for f in find_dates(value)), "")
        return [(f.start, f.end) for f in find_dates(text) if f.normalized == iso]
    return []


def _literal(value: str) -> re.Pattern[str]:
    body = r"\s+".join(re.escape(token) for token in value.split())
    head = r"(?<![\w.,])" if value[0].isalnum() else ""
    tail = r"(?![\w]|[.,]\d)" if value[-1].isalnum() else ""
    return re.compile(head + body + tail, re.IGNORECASE)


_CURRENCY_WORDS = frozenset(word.lower() for word in [*SYMBOLS, *CODES] if word.isalpha())
_COLUMN_BREAK = re.compile(r"\s{2,}|\t|\||\d[\d.,/:'-]*")  # columns, numbers: not the label
_WORD = re.compile(r"[^\W\d_]+")


def anchor_before(text: str, start: int) -> str | None:
    """The label before position `start`: on its line, else on the line above (tables)."""
    line_start = text.rfind("\n", 0, start) + 1
    before = text[line_start:start]
    anchor = _label_words(before)
    if anchor is not None or line_start == 0 or re.search(r"\d", before) or any(
            word not in _CURRENCY_WORDS for word in _WORD.findall(before.lower())):
        return anchor  # the line above labels a value only when nothing else precedes it
    above = text[:line_start - 1].rstrip().rsplit("\n", 1)[-1]
    return _label_words(above)


def _label_words(segment: str) -> str | None:
    for piece in reversed(_COLUMN_BREAK.split(segment)):
        words = _WORD.findall(piece.lower())
        while words and words[-1] in _CURRENCY_WORDS:
            words.pop()  # "Total RM 12.00": the label is "total"
        if words and sum(len(word) for word in words[-ANCHOR_WORDS:]) >= 3:
            return " ".join(words[-ANCHOR_WORDS:])
        if words:
            return None
    return None


# --- reading values after a learned label ----------------------------------------------------

_CURRENCY = "|".join(re.escape(s) for s in sorted([*SYMBOLS, *CODES], key=len, reverse=True))
_MONEY = re.compile(
    rf"(?<![\w.,])(?P<sign>-)?(?P<cur>{_CURRENCY})?[ \u00a0]?"
    r"(?P<num>\d{1,3}(?:[,.'\u00a0 ]\d{3})+(?:[.,]\d{1,2})?|\d+[.,]\d{1,2}|\d+)"
    rf"(?:[ \u00a0]?(?P<cur_after>{_CURRENCY}))?(?![\w%]|[.,]\d)"
)
_IDENTIFIER = re.compile(r"[:#.\s]*(?P<value>#?[A-Z0-9](?:[A-Z0-9/_.-]*[A-Z0-9])?)",
                         re.IGNORECASE)


def _money_matches(text: str, low: int = 0, high: int | None = None) -> list[re.Match[str]]:
    found = _MONEY.finditer(text, low, len(text) if high is None else high)
    # A bare integer is a quantity or a code, not money.
    return [m for m in found if m.group("cur") or m.group("cur_after")
            or not m.group("num").isdigit()]


def _money_match(value: str) -> re.Match[str] | None:
    matches = _money_matches(value.strip())
    return matches[0] if matches and matches[0].group() == value.strip() else None


def _amount_of(match: re.Match[str]) -> Decimal | None:
    amount = _decimal(match.group("num"))
    return -amount if amount is not None and match.group("sign") else amount


def _decimal(number: str) -> Decimal | None:
    amount = Price.fromstring(number).amount
    return Decimal(amount) if amount is not None else None


@lru_cache(maxsize=1024)
def _anchor_regex(anchor: str) -> re.Pattern[str]:
    words = r"[\W_]{1,4}".join(re.escape(word) for word in anchor.split())
    return re.compile(rf"(?<![^\W\d_]){words}(?![^\W\d_])", re.IGNORECASE)


def _after(text: str, position: int) -> tuple[int, int]:
    """Where a value may follow a label ending at `position`: the rest of its line, or the
    next non-blank line when the rest is only punctuation or a currency."""
    line_end = text.find("\n", position)
    line_end = len(text) if line_end < 0 else line_end
    rest = text[position:line_end]
    if any(c.isdigit() for c in rest) or line_end == len(text):
        return position, min(line_end, position + _VALUE_REACH + 20)
    following = re.compile(r"\s*([^\n]*)").match(text, line_end)
    assert following is not None
    return following.start(1), following.end(1)


def _read(text: str, kind: str, low: int, high: int,
          currency: str | None) -> tuple[int, int, str] | None:
    """(start, end, normalized) of the first value of `kind` in text[low:high]; an amount
    without a currency of its own takes the document's."""
    if kind == FieldKind.MONEY:
        for match in _money_matches(text, low, high):
            if match.start() - low > _VALUE_REACH:
                return None
            amount = _amount_of(match)
            if amount is not None and amount > 0:  # a total, tax or price is never nothing
                symbol = match.group("cur") or match.group("cur_after")
                code = SYMBOLS.get(symbol, symbol) if symbol else currency
                return match.start(), match.end(), f"{amount:.2f} {code}" if code else \
                    f"{amount:.2f}"
        return None
    if kind == FieldKind.DATE:
        for date in find_dates(text[low:high]):
            if date.start > _VALUE_REACH:
                return None
            return low + date.start, low + date.end, date.normalized
        return None
    if kind == FieldKind.IDENTIFIER:
        match = _IDENTIFIER.match(text, low, high)
        if match is None or not re.search(r"\d", match.group("value")):
            return None
        value = match.group("value")
        return match.start("value"), match.end("value"), value.lstrip("#").upper()
    return None


# --- applying hints --------------------------------------------------------------------------


class LearnedFields:
    """The hints of every type, indexed for `apply`; built from plain FieldHint data."""

    def __init__(self, hints: Iterable[FieldHint] = ()) -> None:
        self.hints = tuple(hint for hint in hints if hint.kind in LEARNABLE_KINDS)
        # doc type -> issuer key -> field -> hints, most taught first
        self._by_issuer: dict[str, dict[str, dict[str, list[FieldHint]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(list)))
        # doc type -> field -> [(issuers that taught it, hint)], most issuers first
        self._general: dict[str, dict[str, list[tuple[int, FieldHint]]]] = defaultdict(
            lambda: defaultdict(list))
        teachers: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
        for hint in sorted(self.hints, key=lambda h: -h.count):
            key = issuer_key(hint.issuer or "")
            if key:
                self._by_issuer[hint.doc_type][key][hint.field].append(hint)
            # a hint of unknown issuers counts each of its documents as one issuer
            names = {key} if key else {f"?{n}" for n in range(hint.count)}
            teachers[(hint.doc_type, hint.field, hint.kind, hint.anchor)] |= names
        for (doc_type, field, kind, anchor), issuers in teachers.items():
            general = FieldHint(doc_type, field, kind, anchor, None, len(issuers))
            self._general[doc_type][field].append((len(issuers), general))
        for fields in self._general.values():
            for ranked in fields.values():
                ranked.sort(key=lambda item: -item[0])

    def __bool__(self) -> bool:
        return bool(self.hints)

    def apply(self, text: str, doc_type: str | None, fields: list[Field]) -> list[Field]:
        """`fields` with each learnable field read after a learned label where that is surer."""
        if doc_type is None or (doc_type not in self._by_issuer and doc_type not in
                                self._general):
            return fields
        scanned = text[:SCAN_CHARS]
        issuer_hints = self._issuer_hints(scanned, doc_type, fields)
        names = set(issuer_hints) | set(self._general.get(doc_type, {}))
        currency = _document_currency(fields)
        out = list(fields)
        for name in sorted(names):
            ranked = [(min(0.95, 0.9 + 0.01 * hint.count), hint)
                      for hint in issuer_hints.get(name, [])]
            current = next((f for f in out if f.name == name), None)
            if current is None:
                ranked += [(_general_confidence(issuers), hint) for issuers, hint
                           in self._general.get(doc_type, {}).get(name, [])[:5]]
            for confidence, hint in ranked:
                if current is not None and current.confidence >= confidence:
                    break  # the rest are no surer
                found = _read_after_anchor(scanned, hint, confidence, currency)
                if found is not None:
                    out = [f for f in out if f.name != name] + [found]
                    break
        return out

    def _issuer_hints(self, text: str, doc_type: str,
                      fields: list[Field]) -> dict[str, list[FieldHint]]:
        issuers = self._by_issuer.get(doc_type)
        if not issuers:
            return {}
        vendor = next((issuer_key(f.normalized) for f in fields if f.name == "vendor"), "")
        header = issuer_key(text[:_ISSUER_HEADER])
        for key, by_field in issuers.items():
            if key == vendor or (len(key) >= _MIN_ISSUER_KEY and key in header):
                return by_field
        return {}


def _general_confidence(issuers: int) -> float:
    """A label taught by other issuers only fills a gap: on sroie, readings after labels that
    other shops taught lost to the rules' own, even to their weakest guesses."""
    return 0.3 + 0.05 * (min(issuers, 3) - 1)


def _read_after_anchor(text: str, hint: FieldHint, confidence: float,
                       currency: str | None) -> Field | None:
    for match in _anchor_regex(hint.anchor).finditer(text):
        low, high = _after(text, match.end())
        found = _read(text, hint.kind, low, high, currency)
        if found is None:
            continue
        start, end, normalized = found
        return Field(hint.field, text[start:end], normalized, start, end, round(confidence, 3),
                     source="learned")
    return None


def _document_currency(fields: list[Field]) -> str | None:
    codes = [f.normalized.split()[-1] for f in fields if f.name == "amount" and " " in
             f.normalized]
    return max(set(codes), key=codes.count) if codes else None

