"""Key fields of invoices and receipts: dates, totals and numbers (issuer.py: who issued it).

Each value is found next to its label ("Invoice No:", "TOTAL ROUNDED", "Due date") on the
same line or the line after, and each candidate is scored: a stronger label, a non-zero amount,
an amount that equals cash paid minus change, all count. The best candidate per field wins;
its score becomes the field's confidence.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from ..types import Field
from .issuer import find_address, find_vendor
from .lines import Line, line_index_at, occurrences, split_lines
from .money import CODES, SYMBOLS

_FOLLOW_LINES = 3  # a value may sit this many lines below its label (table layouts)

_CURRENCY = (r"(?:US\$|RM|Rs\.?|INR|MYR|USD|EUR|GBP|CHF|PLN|SGD|AUD|CAD|\$|€|£|¥|₹|zł)")
_AMOUNT = re.compile(
    rf"(?<![\w.,/:-])(?P<sign>-)?\s?(?P<cur>{_CURRENCY})?\s?(?P<sign2>-)?"
    r"(?P<num>\d{1,3}(?:[,.'\u00a0 ]\d{3})+(?:[.,]\d{1,2})?|\d+[.,]\d{2}|\d+)"
    rf"(?:\s?(?P<cur_after>{_CURRENCY}|PLN|EUR))?(?![\w.,/:%-]*\d)(?!\s?%)"
)

# (pattern, weight): the stronger the label, the surer the total.
_TOTAL_LABELS = [
    (r"grand\s*total|total\s*(?:amount\s*)?(?:due|payable|to\s*pay)|amount\s*(?:due|payable)"
     r"|balance\s*due|invoice\s*total|total\s*invoice|net\s*payable|te\s*betalen|totaal"
     r"|gesamtbetrag|rechnungsbetrag|total\s*ttc|montant\s*ttc|do\s*zap[łl]aty"
     r"|(?:somme|montant)\s*[àa]\s*payer|factuur\s*totaal|total\s*facture", 10.0),
    (r"total\s*(?:rounded|after\s*(?:rounding|adj\w*))|round(?:ed|ing)?\s*(?:adj\w*\s*)?total"
     r"|total\s*(?:sales\s*)?\(?\s*incl(?:usive|uding|\.)?|total\s*inc\b|nett?\s*total"
     r"|total\s*(?:amount|amt)|amount\s*paid|total\s*paid", 9.0),
    (r"total\s*sales|total\s*rm|total\s*\(rm\)|total", 6.0),
]
_NOT_TOTAL = re.compile(
    r"sub\s*-?\s*total|total\s*(?:qty|quantity|items?|discount|savings|gst|tax|vat|excl|before"
    r"|net\b|weight|no\b|pcs|units?)|(?:gst|tax|vat)\s*total|excl(?:uding|\.)?\s*(?:gst|tax|vat)",
    re.IGNORECASE,
)
_SUBTOTAL_LABELS = [
    (r"sub\s*-?\s*total|total\s*(?:sales\s*)?\(?\s*excl(?:uding|\.)?(?:\s*(?:gst|tax|vat))?"
     r"|total\s*before\s*tax|net\s*amount|amount\s*untaxed|total\s*ht|montant\s*ht|netto"
     r"|subtotaal|total\s*net\b|total\s*excl", 9.0),
]
_TAX_LABELS = [
    (r"(?:total\s*)?(?:gst|vat|tax|btw|tva|mwst|ust|sales\s*tax|igst|cgst)(?:\s*amount)?"
     r"(?:\s*\(?@?\s*\d+(?:[.,]\d+)?\s*%\)?)?(?:\s*\(rm\))?", 8.0),
]
_NOT_TAX = re.compile(
    r"(?:gst|vat|tax|btw|tva|mwst)\s*(?:id|reg|no|number|nr|summary|invoice|code|rate|incl|excl)"
    r"|tax\s*invoice|incl(?:uding|\.|usive)?\s*(?:of\s*)?(?:gst|vat|tax)|excl",
    re.IGNORECASE,
)
# Lower case, matched in the lower-cased text (see _lowered): twice as fast as IGNORECASE.
_CASH = re.compile(r"\b(?:cash|tendered|amount\s*received|paid|payment|visa|master\w*|card)\b")
_CHANGE = re.compile(r"\bchange\b")
_ROUNDING = re.compile(r"\bround(?:ing|ed)?\b")
_WORDY = re.compile(r"[a-z]{3,}", re.IGNORECASE)
_BARE_AMOUNT = re.compile(rf"{_CURRENCY}?\s*-?\s*{_CURRENCY}?[\d.,\s]+")

_DATE_LABEL = re.compile(
    r"(?:invoice|bill|issue|document|receipt|order|transaction)?\s*date|dated|issued|datum"
    r"|factuurdatum|rechnungsdatum|date\s*de\s*facture|data\s*wystawienia",
    re.IGNORECASE,
)
_NOT_DOCUMENT_DATE = re.compile(
    r"due|expir|deliver|ship|valid|period|from|until|to\b|start|end|check|f[äa]llig|verval",
    re.IGNORECASE,
)
_DUE_LABEL = re.compile(
    r"due\s*(?:date|by|on)?|payment\s*due|pay\s*by|payable\s*by|[ée]ch[ée]ance|vervaldatum"
    r"|f[äa]llig(?:keitsdatum)?|termin\s*p[łl]atno[śs]ci",
    re.IGNORECASE,
)
_NUMBER_LABEL = re.compile(
    r"(?:tax\s*)?invoice\s*(?:no\.?|number|num\.?|nr\.?|#|id)|inv\.?\s*(?:no\.?|#|number)"
    r"|(?:bill|receipt|document|doc|cash\s*bill|check|cheque|ticket|trans(?:action)?|order)"
    r"\s*(?:no\.?|number|num\.?|#|nr\.?)|factuur\s*(?:nummer|nr\.?)|rechnungs?\s*(?:nummer|nr\.?)"
    r"|facture\s*n[°o]\.?|num[ée]ro\s*de\s*facture|faktura\s*(?:vat\s*)?(?:nr|numer)"
    r"|invoice(?=\s*:?\s*#?\s*[A-Z]*[/-]?\d)",
    re.IGNORECASE,
)
# Every number label starts with one of these words: found with str.find in the lower-cased
# text, they are the only places the case-blind label pattern (slow to scan) needs to try.
_NUMBER_LABEL_WORDS = ("tax", "inv", "bill", "receipt", "doc", "cash", "che", "ticket", "trans",
                       "order", "factuur", "rechnung", "facture", "num", "faktura")
_NUMBER_VALUE = re.compile(r"[:#.\s]*(?P<value>#?[A-Z0-9](?:[A-Z0-9/_.-]*[A-Z0-9])?)",
                           re.IGNORECASE)

def find_commerce_fields(
    text: str, dates: list[Field], amounts: list[Field], *, number_name: str
) -> list[Field]:
    """Key fields of an invoice or receipt. `dates`/`amounts` are the document's mentions."""
    lines = split_lines(text)
    if not lines:
        return []
    currency = _document_currency(amounts)
    candidates = _amount_candidates(text)
    found: list[Field | None] = [
        _document_date(text, lines, dates),
        _due_date(text, lines, dates),
        _total(text, lines, candidates, currency),
        _labelled_amount("subtotal", _SUBTOTAL_LABELS, None, text, lines, candidates, currency),
        _labelled_amount("tax", _TAX_LABELS, _NOT_TAX, text, lines, candidates, currency),
        _identifier(number_name, text),
    ]
    vendor = find_vendor(text, lines)
    found.append(vendor)
    if vendor is not None:
        found.append(find_address(text, lines, vendor))
    return [field for field in found if field is not None]


# --- amounts -------------------------------------------------------------------------------


class _Amount:
    __slots__ = ("start", "end", "value", "amount", "currency")

    def __init__(self, start: int, end: int, value: str, amount: Decimal, currency: str | None):
        self.start, self.end, self.value = start, end, value
        self.amount, self.currency = amount, currency


def _amount_candidates(text: str) -> list[_Amount]:
    out = []
    for match in _AMOUNT.finditer(text):
        number = match.group("num")
        if "." not in number and "," not in number and not (
            match.group("cur") or match.group("cur_after")
        ):
            continue  # a bare integer is a quantity or a code, not money
        amount = _to_decimal(number)
        if amount is None:
            continue
        if match.group("sign") or match.group("sign2"):
            amount = -amount
        symbol = match.group("cur") or match.group("cur_after")
        currency = SYMBOLS.get(symbol, symbol) if symbol else None
        if currency in ("Rs", "Rs."):
            currency = "INR"
        start = match.start("num") if not match.group("cur") else match.start("cur")
        if match.group("sign"):
            start = match.start("sign")
        end = match.end("cur_after") if match.group("cur_after") else match.end("num")
        out.append(_Amount(start, end, text[start:end], amount, currency))
    return out


_GAPS = re.compile(r"[\s'\u00a0\u202f]")
_MARKS = re.compile(r"[.,]")
_THOUSANDS = re.compile(r"\d{1,3}(?:[.,]\d{3})*")
_EARLIER_MARKS = re.compile(r"[.,](?=.*[.,])")


def _to_decimal(number: str) -> Decimal | None:
    """1,234.50 / 1.234,50 / 1 234,50 / 1'234.50 / 12,50 -> Decimal; the last separator
    followed by one or two digits is the decimal point, any other is a thousands mark."""
    digits = _GAPS.sub("", number)
    head, separator, tail = max(
        (digits.rpartition(mark) for mark in ".,"), key=lambda parts: len(parts[0])
    )
    if separator and 1 <= len(tail) <= 2:
        whole = _MARKS.sub("", head)
        digits = f"{whole}.{tail}"
    elif separator and len(tail) == 3 and _THOUSANDS.fullmatch(head):
        digits = _MARKS.sub("", digits)  # "12,000" or "1.234.567"
    else:
        digits = _EARLIER_MARKS.sub("", digits)  # "3.9000": keep the last mark
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def _document_currency(amounts: list[Field]) -> str | None:
    codes = Counter(field.normalized.split()[-1] for field in amounts if " " in field.normalized)
    return codes.most_common(1)[0][0] if codes else None


def _money_field(name: str, amount: _Amount, currency: str | None, confidence: float) -> Field:
    code = amount.currency or currency
    number = f"{amount.amount:.2f}"
    normalized = f"{number} {code}" if code in CODES or code in SYMBOLS.values() else number
    return Field(name, amount.value, normalized, amount.start, amount.end, round(confidence, 3))


def _labelled(
    labels: list[tuple[str, float]], reject: re.Pattern[str] | None, text: str, lines: list[Line],
    candidates: list[_Amount],
) -> list[tuple[float, int, _Amount]]:
    """(label weight, line distance, amount) for every amount that follows a matching label."""
    found = []
    ends = [candidate.end for candidate in candidates]
    lowered = _lowered(text)
    for pattern, weight in labels:
        for match in _label_regex(pattern).finditer(lowered):
            index = line_index_at(lines, match.start())
            line = lines[index]
            context = text[line.start : min(line.end, match.end() + 12)]
            if reject is not None and reject.search(context):
                continue
            if weight < 10 and _NOT_TOTAL.search(context) and labels is _TOTAL_LABELS:
                continue
            distance = 0
            for target in lines[index : index + _FOLLOW_LINES + 2]:
                if target is not line and _blank(target):
                    continue
                if distance > _FOLLOW_LINES:
                    break
                if distance and _WORDY.search(target.text) and not \
                        _BARE_AMOUNT.fullmatch(target.text):
                    break  # another label came first: the value was not below this one
                low = match.end() if distance == 0 else target.start
                amount = _first_amount_in(candidates, ends, low, target.end)
                if amount is not None:
                    found.append((weight, distance, amount))
                    break
                distance += 1
    return found


@lru_cache(maxsize=32)
def _label_regex(pattern: str) -> re.Pattern[str]:
    """A label in the lower-cased text (_lowered); its letters are all lower case."""
    return re.compile(rf"(?<![\w])(?:{pattern})(?![a-z])")


def _lowered(text: str) -> str:
    """The text in lower case, for the label patterns: a case-blind regex scans half as fast.
    A letter whose lower case is longer ("İ" -> "i̇") would shift offsets: it stays as it is."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(char if len(char.lower()) > 1 else char.lower() for char in text)


def _first_amount_in(
    candidates: list[_Amount], ends: list[int], low: int, high: int
) -> _Amount | None:
    """The first amount overlapping [low, high): "RM\n15.00" belongs to both its lines."""
    index = bisect_right(ends, low)
    if index < len(candidates) and candidates[index].start < high:
        return candidates[index]
    return None


def _blank(line: Line) -> bool:
    return not any(char.isalnum() for char in line.text)  # ":" or "=" alone on a line


def _total(
    text: str, lines: list[Line], candidates: list[_Amount], currency: str | None
) -> Field | None:
    found = _labelled(_TOTAL_LABELS, None, text, lines, candidates)
    paid = _cash_minus_change(text, lines, candidates)
    if paid is not None:  # "CASH 50.00 CHANGE 9.10": whatever equals 40.90 is the total
        found += [(5.0, 0, amount) for amount in candidates if amount.amount == paid]
    if not found:
        return _repeated_amount(candidates, currency)
    counts = Counter(amount.amount for _, _, amount in found)
    rounding = _ROUNDING.search(_lowered(text)) is not None

    def score(item: tuple[float, int, _Amount]) -> float:
        weight, distance, amount = item
        value = weight - 0.5 * distance + 0.5 * min(counts[amount.amount] - 1, 2)
        if amount.amount <= 0:
            value -= 8
        if paid is not None and amount.amount == paid:
            value += 3
        if rounding and amount.amount % Decimal("0.05") == 0:
            value += 2  # cash rounding applies last: the rounded sum is what was paid
        return value + amount.start / max(len(text), 1)  # later totals supersede earlier ones

    best = max(found, key=score)
    confidence = min(0.95, 0.45 + 0.05 * score(best))
    return _money_field("total", best[2], currency, confidence)


def _repeated_amount(candidates: list[_Amount], currency: str | None) -> Field | None:
    """No total label was readable: the largest amount printed twice (total, then tendered)."""
    counts = Counter(amount.amount for amount in candidates if amount.amount > 0)
    repeated = [amount for amount in candidates if counts[amount.amount] >= 2]
    if not repeated:
        return None
    best = max(repeated, key=lambda amount: (amount.amount, -amount.start))
    return _money_field("total", best, currency, 0.35)


def _cash_minus_change(text: str, lines: list[Line], candidates: list[_Amount]) -> Decimal | None:
    ends = [candidate.end for candidate in candidates]

    def after(pattern: re.Pattern[str], lowered: str) -> Decimal | None:
        for match in pattern.finditer(lowered):
            index = line_index_at(lines, match.start())
            following = [line for line in lines[index + 1 : index + 4] if not _blank(line)]
            for distance, line in enumerate([lines[index], *following[:1]]):
                low = match.end() if distance == 0 else line.start
                amount = _first_amount_in(candidates, ends, low, line.end)
                if amount is not None:
                    return amount.amount
        return None

    lowered = _lowered(text)
    cash, change = after(_CASH, lowered), after(_CHANGE, lowered)
    if cash is None or change is None or change < 0 or cash <= change:
        return None
    return cash - change


def _labelled_amount(
    name: str, labels: list[tuple[str, float]], reject: re.Pattern[str] | None, text: str,
    lines: list[Line], candidates: list[_Amount], currency: str | None,
) -> Field | None:
    found = [item for item in _labelled(labels, reject, text, lines, candidates)
             if item[2].amount > 0]
    if not found:
        return None
    weight, distance, amount = max(found, key=lambda item: item[0] - 0.5 * item[1]
                                   + item[2].start / max(len(text), 1))
    return _money_field(name, amount, currency, 0.5 + 0.04 * weight - 0.05 * distance)


# --- dates ---------------------------------------------------------------------------------


def _labelled_date(
    text: str, lines: list[Line], dates: list[Field], label: re.Pattern[str],
    reject: re.Pattern[str] | None,
) -> Field | None:
    for date in dates:
        index = line_index_at(lines, date.start)
        before = text[lines[index].start : date.start]
        if not before.strip() and index > 0:  # the label sits on the line above
            before = lines[index - 1].text
        tail = before[-40:]
        if label.search(tail) and not (reject and reject.search(tail)):
            return date
    return None


def _document_date(text: str, lines: list[Line], dates: list[Field]) -> Field | None:
    if not dates:
        return None
    labelled = _labelled_date(text, lines, dates, _DATE_LABEL, _NOT_DOCUMENT_DATE)
    if labelled is not None:
        return _renamed(labelled, "document_date", 0.9)
    due = _labelled_date(text, lines, dates, _DUE_LABEL, None)
    first = next((date for date in dates if date is not due), None)
    return _renamed(first, "document_date", 0.6) if first is not None else None


def _due_date(text: str, lines: list[Line], dates: list[Field]) -> Field | None:
    due = _labelled_date(text, lines, dates, _DUE_LABEL, None)
    return _renamed(due, "due_date", 0.85) if due is not None else None


def _renamed(field: Field, name: str, confidence: float) -> Field:
    return Field(name, field.value, field.normalized, field.start, field.end,
                 round(min(confidence, field.confidence), 3))


def find_document_date(text: str, dates: list[Field]) -> Field | None:
    """The issue date: the first date under a date label, else the first date that is not due."""
    return _document_date(text, split_lines(text), dates) if dates else None


# --- numbers and names ---------------------------------------------------------------------


def _identifier(name: str, text: str) -> Field | None:
    for label in _number_labels(text[:20_000]):
        match = _NUMBER_VALUE.match(text, label.end())
        if match is None or "\n\n" in text[label.end() : match.start("value")]:
            continue
        value = match.group("value")
        if not re.search(r"\d", value) or re.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", value):
            continue
        start = match.start("value")
        return Field(name, value, value.lstrip("#").upper(), start, start + len(value), 0.8)
    return None


def _number_labels(text: str) -> Iterator[re.Match[str]]:
    """What `_NUMBER_LABEL.finditer(text)` yields, trying the pattern only where a label word
    starts."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a letter whose lower case is longer ("İ"): offsets differ
        yield from _NUMBER_LABEL.finditer(text)
        return
    starts = sorted({at for word in _NUMBER_LABEL_WORDS for at in occurrences(lowered, word)})
    end = 0
    for at in starts:
        if at >= end and (label := _NUMBER_LABEL.match(text, at)):
            end = label.end()
            yield label
