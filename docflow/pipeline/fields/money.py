"""Money: an amount next to a currency symbol or ISO code; price-parser reads the number."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

from price_parser import Price

from ..types import Field
from .lines import windows

# Local symbols and the ISO code each stands for.
SYMBOLS = {
    "US$": "USD", "CA$": "CAD", "C$": "CAD", "AU$": "AUD", "A$": "AUD", "NZ$": "NZD",
    "HK$": "HKD", "S$": "SGD", "R$": "BRL", "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY",
    "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY", "₪": "ILS", "zł": "PLN", "RM": "MYR",
    "Rp": "IDR",
}
# "$" and "¥" serve several countries; "RM" and "Rp" are also ordinary letters.
UNCERTAIN_SYMBOLS = frozenset({"$", "¥", "RM", "Rp"})
CODES = (
    "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "CNY", "HKD", "SGD", "INR", "SEK",
    "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "BGN", "RUB", "BRL", "MXN", "ZAR", "KRW", "TRY",
    "ILS", "AED", "SAR", "MYR", "IDR", "THB", "PHP", "VND", "TWD",
)
_ZERO_DECIMAL = frozenset({"JPY", "KRW", "IDR", "VND"})  # no minor units in practice


def _alternatives(names: list[str]) -> str:
    return "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))


_SIGNS = [symbol for symbol in SYMBOLS if not symbol[0].isalpha()]
_LETTERED = [symbol for symbol in SYMBOLS if symbol[0].isalpha()] + list(CODES)
_CURRENCY = (  # lettered ones must stand alone: "FORM 12" holds no ringgit
    rf"(?:{_alternatives(_SIGNS)}|(?<![A-Za-z])(?:{_alternatives(_LETTERED)})(?![A-Za-z]))"
)
_NUMBER = r"\d{1,3}(?:[,.'\u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
_NUMBER_END = r"(?![\w]|[.,]\d)"  # the whole number, not its head ("$5m" is not five dollars)
_MONEY = re.compile(
    rf"(?P<before>{_CURRENCY})[ \u00a0]?(?P<number>{_NUMBER}){_NUMBER_END}"
    rf"|(?<![\w.,])(?P<number_first>{_NUMBER})[ \u00a0]?(?P<after>{_CURRENCY})"
)


# No currency, no money: the number pattern runs only near a sign or a code.
_ANCHORS = (
    re.compile("[" + "".join(sign for sign in _SIGNS if len(sign) == 1) + "]"),
    re.compile(_alternatives([sign for sign in _SIGNS if len(sign) > 1] + _LETTERED)),
)


def find_money(text: str) -> Iterator[Field]:
    """Amounts normalised as "1234.50 EUR"."""
    for low, high in windows(text, _ANCHORS, before=24, after=24):
        yield from _money_in(text, low, high)


def _money_in(text: str, low: int, high: int) -> Iterator[Field]:
    for match in _MONEY.finditer(text, low, high):
        currency = match.group("before") or match.group("after")
        number = match.group("number") or match.group("number_first")
        amount = Price.fromstring(number).amount
        if amount is None:
            continue
        code = SYMBOLS.get(currency, currency)
        yield Field(
            name="amount",
            value=match.group(),
            normalized=f"{_format(amount, code)} {code}",
            start=match.start(),
            end=match.end(),
            confidence=0.75 if currency in UNCERTAIN_SYMBOLS else 0.9,
        )


def _format(amount: Decimal, code: str) -> str:
    return f"{amount:.0f}" if code in _ZERO_DECIMAL else f"{amount:.2f}"
