"""A spreadsheet cell as Excel shows it: its value drawn through its number format.

A workbook stores 38218 and the format "d-mmm-yy"; Excel and LibreOffice show "19-Aug-04", and
that is what a reader searches for. This covers the format language Excel writes: up to four
`;` sections (positive; negative; zero; text) and `[>100]` conditions, "quoted" and \\escaped
literals, `_x` spaces and `*x` fills, colours and locale tags (ignored), `[$€-407]` currency,
digit placeholders `0 # ?` with thousands separators, scaling commas, percent, scientific
notation and fractions, dates and times (`m` is a minute beside hours or seconds, a month
elsewhere), AM/PM, elapsed `[h]:mm`, and `@` for text. General shows 15 significant digits.
Numbers round half away from zero on their 15-digit decimal form, as Excel's do, so 2.675 with
"0.00" shows 2.68. A format is parsed once (cached); a cell costs a few microseconds.

Written here rather than taken from PyPI: the one small library that renders dates too (xlfmt)
re-parses the format for every cell, about 250 µs a cell, 50 times this module's cost.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_LAST_SERIAL = 2958465  # 9999-12-31: Excel shows "#####" beyond it, and before day 0
_CONDITION = re.compile(r"(<=|>=|<>|<|>|=)\s*(-?[\d.]+(?:[eE][-+]?\d+)?)")
_ELAPSED = re.compile(r"(h+|m+|s+)", re.IGNORECASE)


def general_number(value: float) -> str:
    """A number as Excel's General format shows it: an integer without ".0", anything else
    to 15 significant digits (what Excel keeps), so 0.1 + 0.2 shows as 0.3."""
    if not math.isfinite(value):  # no cell holds one; Excel's nearest word for it
        return "#NUM!"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.15g}"


def shown(value: float | str | bool, number_format: str, *, date1904: bool = False) -> str:
    """`value` as Excel shows it under `number_format`; a format it cannot draw (damaged,
    or a date out of Excel's range) leaves the value as General shows it."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    layout = _parsed(number_format)
    if isinstance(value, str):
        return layout.text.render_text(value) if layout.text else value
    if layout.general or not math.isfinite(value):
        return general_number(value)
    chosen = layout.section_for(value)
    if chosen is None:
        return general_number(value)
    section, signed = chosen
    try:
        drawn = section.render(abs(value) if signed else value, date1904)
    except (ValueError, OverflowError, InvalidOperation):
        return general_number(value)
    if signed and value < 0 and drawn and not _is_zero(drawn):
        return "-" + drawn
    return drawn


def _is_zero(drawn: str) -> bool:
    return not any(ch in "123456789" for ch in drawn)


def _holds(condition: tuple[str, float], value: float) -> bool:
    op, limit = condition
    return {"<": value < limit, "<=": value <= limit, ">": value > limit,
            ">=": value >= limit, "=": value == limit, "<>": value != limit}[op]


@dataclass
class _Token:
    # lit, digit, point, exp, slash, denominator, date, subsecond, ampm, elapsed, general, text
    kind: str
    text: str
    minute: bool = False  # an "m" or "mm" that counts minutes, not months


@dataclass
class _Section:
    tokens: list[_Token] = field(default_factory=list)
    condition: tuple[str, float] | None = None
    text: bool = False  # has "@": this section draws text cells
    percent: int = 0
    scale: int = 0  # thousands divided away by trailing commas
    grouping: bool = False
    kind: str = "number"  # or "date", "general", "fraction", "literal"
    # where a number's parts go: its point, its E, the placeholders of each part
    point: int | None = None
    exponent: int | None = None
    whole_places: list[int] = field(default_factory=list)
    fraction_places: list[int] = field(default_factory=list)
    exponent_places: list[int] = field(default_factory=list)
    template: list[str] = field(default_factory=list)
    subsecond_places: int = 0
    twelve_hours: bool = False
    shows_time: bool = False

    def render_text(self, value: str) -> str:
        return "".join(value if t.kind == "text" else t.text for t in self.tokens
                       if t.kind in ("lit", "text"))

    def render(self, value: float, date1904: bool) -> str:
        if self.kind == "date":
            return _render_date(self, value, date1904)
        if self.kind == "literal":
            return "".join(t.text for t in self.tokens if t.kind == "lit")
        value = value * 100**self.percent / 1000**self.scale
        if self.kind == "general":
            return "".join(general_number(value) if t.kind == "general" else t.text
                           for t in self.tokens if t.kind in ("lit", "general"))
        if self.kind == "fraction":
            return _render_fraction(self.tokens, value, self.grouping)
        return _render_number(self, value)


@dataclass
class _Layout:
    """A parsed format: the sections that draw numbers, and the one that draws text."""

    numeric: list[_Section]
    text: _Section | None
    general: bool  # plain General: the common case, drawn without looking further

    def section_for(self, value: float) -> tuple[_Section, bool] | None:
        """The section that draws `value`, and whether a minus sign goes before it."""
        numeric = self.numeric
        if not numeric:
            return None
        if numeric[0].condition or len(numeric) > 1 and numeric[1].condition:
            for section in numeric:
                if section.condition and _holds(section.condition, value):
                    # "[<0]" draws a magnitude; "[>=100]" shows its negatives with a sign
                    op, limit = section.condition
                    return section, not (op in ("<", "<=") and limit <= 0)
            rest = [s for s in numeric if not s.condition]
            return (rest[0], rest[0].kind != "date") if rest else None
        if value < 0 and len(numeric) >= 2:
            return numeric[1], False
        if value == 0 and len(numeric) >= 3:
            return numeric[2], False
        # a negative date has no sign to show: Excel fills the cell with #
        return numeric[0], numeric[0].kind != "date"


@functools.lru_cache(maxsize=1024)
def _parsed(number_format: str) -> _Layout:
    if number_format.lower() in ("general", ""):
        return _Layout([], None, general=True)
    try:
        sections = [_section(part) for part in _split(number_format)]
    except (ValueError, IndexError):  # a damaged format: General
        return _Layout([], None, general=True)
    return _Layout([s for s in sections[:3] if not s.text],
                   next((s for s in sections if s.text), None), general=False)


def _split(number_format: str) -> list[str]:
    """The `;` sections, minding quotes, escapes and brackets."""
    parts, start, i, quoted, bracket = [], 0, 0, False, False
    while i < len(number_format):
        ch = number_format[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "\\":
            i += 1
        elif not quoted and ch == "[":
            bracket = True
        elif not quoted and ch == "]":
            bracket = False
        elif ch == ";" and not quoted and not bracket:
            parts.append(number_format[start:i])
            start = i + 1
        i += 1
    parts.append(number_format[start:])
    return parts


def _section(code: str) -> _Section:  # noqa: C901 - one pass over the format language
    section, tokens, i = _Section(), [], 0
    lower = code.lower()
    while i < len(code):
        ch, low = code[i], lower[i]
        if ch == '"':
            end = code.find('"', i + 1)
            end = len(code) if end < 0 else end
            tokens.append(_Token("lit", code[i + 1:end]))
            i = end + 1
            continue
        if ch in "\\!":
            tokens.append(_Token("lit", code[i + 1:i + 2]))
            i += 2
            continue
        if ch == "_":  # a space as wide as the next character
            tokens.append(_Token("lit", " "))
            i += 2
            continue
        if ch == "*":  # repeat the next character to fill the cell: nothing to read
            i += 2
            continue
        if ch == "[":
            end = code.find("]", i)
            end = len(code) if end < 0 else end
            _bracket(code[i + 1:end], section, tokens)
            i = end + 1
            continue
        if lower.startswith("general", i):
            tokens.append(_Token("general", ""))
            i += 7
            continue
        if lower.startswith("am/pm", i) or lower.startswith("a/p", i):
            size = 5 if lower.startswith("am/pm", i) else 3
            tokens.append(_Token("ampm", code[i:i + size]))
            i += size
            continue
        if ch in "0#?":
            tokens.append(_Token("digit", ch))
        elif ch == ".":
            tokens.append(_Token("point", "."))
        elif ch == "," and tokens and tokens[-1].kind in ("digit", "comma"):
            tokens.append(_Token("comma", ","))
        elif ch == "%":
            section.percent += 1
            tokens.append(_Token("lit", "%"))
        elif low == "e" and code[i + 1:i + 2] in ("+", "-") and any(
                t.kind == "digit" for t in tokens):
            tokens.append(_Token("exp", code[i + 1]))
            i += 2
            continue
        elif ch == "/" and any(t.kind == "digit" for t in tokens) and (
                code[i + 1:i + 2] in ("?", "#", "0") or code[i + 1:i + 2].isdigit()):
            tokens.append(_Token("slash", "/"))
            if code[i + 1].isdigit():  # a fixed denominator: "# ??/16"
                end = i + 1
                while end < len(code) and code[end].isdigit():
                    end += 1
                tokens.append(_Token("denominator", code[i + 1:end]))
                i = end
                continue
        elif low in "ymdhse" and not any(t.kind == "digit" for t in tokens):
            end = i
            while end < len(code) and lower[end] == low:
                end += 1
            tokens.append(_Token("date", "y" * (end - i) if low == "e" else lower[i:end]))
            i = end
            continue
        elif ch == "@":
            section.text = True
            tokens.append(_Token("text", "@"))
        else:
            tokens.append(_Token("lit", ch))
        i += 1
    section.tokens = _settle_commas(tokens, section)
    _settle_kind(section)
    return section


def _settle_kind(section: _Section) -> None:
    """What the section draws, and where each part goes, worked out once."""
    tokens = section.tokens
    kinds = {t.kind for t in tokens}
    if kinds & {"date", "elapsed", "ampm"}:
        section.kind = "date"
        section.tokens = tokens = _date_tokens(tokens)
        section.subsecond_places = min(3, max(
            (len(t.text) for t in tokens if t.kind == "subsecond"), default=0))
        section.twelve_hours = "ampm" in kinds
        section.shows_time = any(
            t.kind in ("elapsed", "ampm", "subsecond") or t.minute
            or (t.kind == "date" and t.text[0] in "hs") for t in tokens)
    elif "general" in kinds:
        section.kind = "general"
    elif "slash" in kinds and "digit" in kinds:
        section.kind = "fraction"
    elif "digit" not in kinds:
        section.kind = "literal"
    else:
        section.point = next((i for i, t in enumerate(tokens) if t.kind == "point"), None)
        section.exponent = next((i for i, t in enumerate(tokens) if t.kind == "exp"), None)
        end = section.exponent if section.exponent is not None else len(tokens)
        split = section.point if section.point is not None else end
        section.whole_places = [i for i in range(split) if tokens[i].kind == "digit"]
        section.fraction_places = [i for i in range(split, end) if tokens[i].kind == "digit"]
        section.exponent_places = [i for i in range(end, len(tokens))
                                   if tokens[i].kind == "digit"]
        section.template = [t.text if t.kind == "lit" else "" for t in tokens]


def _bracket(inner: str, section: _Section, tokens: list[_Token]) -> None:
    if inner.startswith("$"):  # [$€-407]: the symbol before the locale
        symbol = inner[1:].split("-", 1)[0]
        if symbol:
            tokens.append(_Token("lit", symbol))
        return
    if _ELAPSED.fullmatch(inner):
        tokens.append(_Token("elapsed", inner.lower()))
        return
    match = _CONDITION.fullmatch(inner.strip())
    if match:
        section.condition = (match[1], float(match[2]))
    # colours ([Red], [Color 3]), locales and calendars ([$-409], [DBNum1]) draw no text


def _settle_commas(tokens: list[_Token], section: _Section) -> list[_Token]:
    """A comma between digit placeholders groups thousands; commas after the last one scale
    by a thousand each; any other comma is a literal."""
    settled: list[_Token] = []
    for index, token in enumerate(tokens):
        if token.kind != "comma":
            settled.append(token)
            continue
        after = next((t for t in tokens[index + 1:] if t.kind != "comma"), None)
        if after is not None and after.kind == "digit":
            section.grouping = True
        else:
            section.scale += 1
    return settled


def _date_tokens(tokens: list[_Token]) -> list[_Token]:
    """A date section's points and zeros: "ss.00" shows hundredths, "d.m.yy" has dots; and its
    `m`s: one after an hour or before a second is a minute."""
    settled: list[_Token] = []
    for token in tokens:
        previous = settled[-1] if settled else None
        if token.kind == "digit" and token.text == "0" and previous is not None and \
                previous.kind == "subsecond":
            previous.text += "0"
        elif token.kind == "point" and previous is not None and \
                previous.kind in ("date", "elapsed") and previous.text[0] == "s":
            settled.append(_Token("subsecond", ""))
        elif token.kind in ("point", "digit", "comma"):
            settled.append(_Token("lit", token.text))
        else:
            settled.append(token)
    timed = [t for t in settled if t.kind in ("date", "elapsed")]
    for index, token in enumerate(timed):
        if token.text in ("m", "mm"):
            before = timed[index - 1].text[0] if index else ""
            after = timed[index + 1].text[0] if index + 1 < len(timed) else ""
            token.minute = before == "h" or after == "s"
    return settled


def _rounded(value: float, places: int) -> tuple[str, str]:
    """Integer and fraction digits of `value` at `places` decimals, rounded as Excel does."""
    exact = Decimal(f"{value:.15g}")
    fixed = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    whole, _, fraction = f"{fixed:f}".partition(".")
    return whole.lstrip("-"), fraction


def _render_number(section: _Section, value: float) -> str:
    tokens, whole_places, fraction_places = (
        section.tokens, section.whole_places, section.fraction_places)
    power = 0
    if section.exponent is not None and value:
        width = max(1, len(whole_places))
        # "##0.0E+0" is engineering notation: exponents in steps of the placeholders' count
        step = width if any(tokens[i].text == "#" for i in whole_places) else 1
        power = math.floor(math.log10(value))
        power = power - power % step if step > 1 else power - (width - 1)
        value = value / 10**power
        if int(_rounded(value, len(fraction_places))[0] or 0) >= 10**width:  # 9.99 -> 10.0
            power += step
            value /= 10**step
    whole, fraction = _rounded(value, len(fraction_places))
    if whole == "0":
        whole = ""
    out = section.template.copy()
    _fill_whole(tokens, out, whole_places, whole, section.grouping)
    _fill_fraction(tokens, out, fraction_places, fraction)
    if section.point is not None:
        out[section.point] = "."
    if section.exponent is not None:
        sign = "-" if power < 0 else ("+" if tokens[section.exponent].text == "+" else "")
        zeros = sum(tokens[i].text == "0" for i in section.exponent_places)
        out[section.exponent] = "E" + sign
        _fill_whole(tokens, out, section.exponent_places, str(abs(power)).rjust(zeros, "0"),
                    False)
    return "".join(out)


def _fill_whole(tokens: list[_Token], out: list[str], places: list[int], digits: str,
                grouping: bool) -> None:
    """Right-aligned: each placeholder takes one digit, the first takes any left over."""
    if not places:
        return
    if grouping:
        padded = digits.rjust(sum(tokens[i].text == "0" for i in places), "0")
        out[places[0]] = _grouped(padded) if padded else ""
        return
    rest = digits
    for position, i in enumerate(reversed(places)):
        last = position == len(places) - 1
        if rest:
            out[i], rest = (rest, "") if last else (rest[-1], rest[:-1])
        else:
            out[i] = {"0": "0", "?": " "}.get(tokens[i].text, "")


def _grouped(digits: str) -> str:
    head = len(digits) % 3 or 3
    return ",".join([digits[:head], *(digits[i:i + 3] for i in range(head, len(digits), 3))])


def _fill_fraction(tokens: list[_Token], out: list[str], places: list[int],
                   digits: str) -> None:
    trailing = True
    for i, digit in reversed(list(zip(places, digits, strict=False))):
        if trailing and digit == "0" and tokens[i].text != "0":
            out[i] = " " if tokens[i].text == "?" else ""
        else:
            trailing = False
            out[i] = digit


def _render_fraction(tokens: list[_Token], value: float, grouping: bool) -> str:
    slash = next(i for i, t in enumerate(tokens) if t.kind == "slash")
    before = [i for i in range(slash) if tokens[i].kind == "digit"]
    # the numerator is the last run of placeholders before the slash; a whole part precedes it
    numerator: list[int] = []
    for i in reversed(before):
        if numerator and i != numerator[0] - 1:
            break
        numerator.insert(0, i)
    whole_places = [i for i in before if i not in numerator]
    after = tokens[slash + 1:]
    fixed = next((int(t.text) for t in after if t.kind == "denominator"), None)
    denominator_places = [i for i in range(slash + 1, len(tokens)) if tokens[i].kind == "digit"]
    whole = int(value) if whole_places else 0
    rest = value - whole
    if fixed:
        part = Fraction(round(rest * fixed), fixed)
        top, bottom = part.numerator * (fixed // part.denominator), fixed
    else:
        part = Fraction(rest).limit_denominator(10 ** max(1, len(denominator_places)) - 1)
        top, bottom = part.numerator, part.denominator
    if top == bottom and whole_places:
        whole, top = whole + 1, 0
    out = [t.text if t.kind in ("lit", "slash") else "" for t in tokens]
    if fixed:
        out[slash + 1 + next(i for i, t in enumerate(after) if t.kind == "denominator")] = \
            str(bottom)
    if top == 0 and whole_places:  # a whole number: the fraction's room stays blank
        _fill_whole(tokens, out, whole_places, str(whole) if whole else "", grouping)
        if not whole:
            out[whole_places[-1]] = "0"
        return "".join(out[: numerator[0]]).rstrip() if numerator else "".join(out)
    _fill_whole(tokens, out, whole_places, str(whole) if whole else "", grouping)
    _fill_whole(tokens, out, numerator, str(top), False)
    if not fixed:
        _fill_whole(tokens, out, denominator_places, str(bottom), False)
        for i in denominator_places:  # left-aligned: "1/4 " not " 1/4"
            out[i] = out[i].strip()
    return "".join(out)


def _render_date(section: _Section, serial: float, date1904: bool) -> str:
    if serial < 0 or serial > _LAST_SERIAL:
        raise ValueError("outside Excel's dates")
    tokens, places = section.tokens, section.subsecond_places
    day = math.floor(serial)
    ticks = round((serial - day) * 86400 * 10**places)
    if ticks >= 86400 * 10**places and section.shows_time:  # 23:59:59.7 shows the next day
        day, ticks = day + 1, ticks - 86400 * 10**places
    ticks = min(ticks, 86400 * 10**places - 1)
    seconds, fraction = divmod(ticks, 10**places)
    hour, minute, second = seconds // 3600, seconds // 60 % 60, seconds % 60
    year, month, mday, weekday = _calendar(day, date1904)
    twelve = section.twelve_hours
    out = []
    for token in tokens:
        kind, code = token.kind, token.text
        if kind == "date":
            letter = code[0]
            if letter == "y":
                out.append(str(year) if len(code) > 2 else f"{year % 100:02d}")
            elif letter == "m" and token.minute:
                out.append(f"{minute:0{len(code)}d}")
            elif letter == "m":
                name = _MONTHS[month - 1]
                out.append({1: str(month), 2: f"{month:02d}", 3: name[:3], 5: name[0]}.get(
                    len(code), name))
            elif letter == "d":
                name = _DAYS[weekday]
                out.append({1: str(mday), 2: f"{mday:02d}", 3: name[:3]}.get(len(code), name))
            elif letter == "h":
                shown_hour = (hour % 12 or 12) if twelve else hour
                out.append(f"{shown_hour:0{min(len(code), 2)}d}")
            elif letter == "s":
                out.append(f"{second:0{min(len(code), 2)}d}")
        elif kind == "elapsed":
            total = (day * 86400 + seconds) // {"h": 3600, "m": 60, "s": 1}[code[0]]
            out.append(f"{total:0{len(code)}d}")
        elif kind == "ampm":
            after_noon = hour >= 12
            if code.lower() == "am/pm":
                out.append("PM" if after_noon else "AM")
            else:
                letter = code[2] if after_noon else code[0]
                out.append(letter)
        elif kind == "subsecond":
            out.append(f".{fraction:0{places}d}" if places else "")
        elif kind == "lit":
            out.append(code)
    return "".join(out)


def _calendar(day: int, date1904: bool) -> tuple[int, int, int, int]:
    """(year, month, day, weekday Monday=0) of a serial day, with Excel's 29 February 1900."""
    if date1904:
        moment = datetime.date(1904, 1, 1) + datetime.timedelta(days=day)
    elif day == 60:
        return 1900, 2, 29, 2  # Excel's phantom leap day, a Wednesday in its own calendar
    elif day == 0:
        return 1900, 1, 0, 5  # "0-Jan-1900", a Saturday
    else:
        moment = datetime.date(1899, 12, 31 if day < 60 else 30) + datetime.timedelta(days=day)
        if day < 60:  # Excel's weekdays count its leap day: its 1 January 1900 is a Sunday
            return moment.year, moment.month, moment.day, (moment.weekday() - 1) % 7
    return moment.year, moment.month, moment.day, moment.weekday()
