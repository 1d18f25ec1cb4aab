"""Key fields of contracts: effective date, parties, governing law (jurisdiction) and term.

Contracts say these things in stock phrases: "dated as of July 13, 2011", "by and between Kite
Pharma, Inc., a Delaware corporation (“Kite”) and ...", "governed by the laws of the State of
New York", "for a period of two (2) years". Each finder reads one such phrase family.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

from ..types import Field
from .lines import collapse, occurrences

HEAD_CHARS = 6_000  # date and parties are stated in the opening paragraph

_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"], start=1)}
_MONTH = "(?:" + "|".join(_MONTHS) + ")"
_DAY_OF = re.compile(
    rf"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:day\s+)?of\s+(?P<month>{_MONTH}),?\s+"
    r"(?P<year>(?:19|20)\d\d)",
    re.IGNORECASE,
)
_YEAR = re.compile(r"(?:19|20)\d\d")
_DAY_OF_REACH = 64  # "30th  day  of  September,  2011" and then some
_EFFECTIVE_CUE = re.compile(
    r"effective\s+(?:as\s+of|on|from)?|dated\s+(?:as\s+of\s+)?(?:this\s+)?|as\s+of\s+(?:this\s+)?"
    r"|made\s+(?:and\s+entered\s+into\s+)?(?:as\s+of\s+|on\s+|this\s+)|entered\s+into\s+"
    r"(?:as\s+of\s+|on\s+|this\s+)|effective\s+date",
    re.IGNORECASE,
)

_STATES = [
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut",
    "Delaware", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas",
    "Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota",
    "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada", "New Hampshire", "New Jersey",
    "New Mexico", "New York", "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon",
    "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah",
    "Vermont", "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming",
    "District of Columbia", "England and Wales", "England", "Scotland", "Ireland", "Canada",
    "Ontario", "British Columbia", "Quebec", "Alberta", "Germany", "France", "Switzerland",
    "the Netherlands", "Israel", "Singapore", "Hong Kong", "Japan", "China", "India", "Australia",
    "Bermuda", "Cayman Islands", "Luxembourg", "Sweden", "Norway", "Denmark",
]
_PLACE = "|".join(re.escape(place) for place in sorted(_STATES, key=len, reverse=True))
# Both shapes start or end with the literal "law", so the scan skips ahead cheaply.
# Literal first words: the regex engine then jumps from one "law" to the next.
_GOVERNING = re.compile(
    r"(?:law|Law|LAW)[sS]?\s+(?i:of\s+(?:the\s+)?(?:(?:State|Commonwealth|Province)\s+of\s+)?"
    rf"(?P<place>{_PLACE}))(?!\w)"
)
_LAW = re.compile(r"(?:law|Law|LAW)[sS]?(?!\w)")
_PLACE_NAMES = frozenset(place.lower() for place in _STATES)
_PLACE_BEFORE = re.compile(rf"(?<!\w)(?P<place2>{_PLACE})\s+$", re.IGNORECASE)

_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "eighteen": 18, "twenty": 20, "twenty-four": 24, "thirty": 30, "thirty-six": 36,
    "sixty": 60, "ninety": 90,
}
# Literal first letters let the regex engine skip to the next "y", "m" or "d"; a unit that ends
# a longer word ("today", "per-day") is dropped by `_term`, as a lookbehind would, but cheaper.
_UNIT = re.compile(r"(?P<unit>year|month|day|Year|Month|Day|YEAR|MONTH|DAY)[sS]?(?!\w)")
_FIGURE = re.compile(r"\(\s*\d{1,3}\s*\)")
_COUNT_WORD = re.compile(r"\(\s*\d{1,3}\s*\)|[\w]+(?:-[\w]+)?")
_TERM_CUE = re.compile(
    r"\bterm\b|expire|remain\s+in\s+(?:full\s+)?(?:force|effect)|in\s+effect\s+for|continue\s+in\s+(?:full\s+)?force",
    re.IGNORECASE,
)
_NOT_TERM = re.compile(r"notice|days?\s+(?:after|following|of)\s+(?:receipt|written|request)"
                       r"|within|prior\s+written|age|old", re.IGNORECASE)

_PARTY_START = re.compile(r"\b(?:by\s+and\s+)?(?:between|among)\s*:?\s+", re.IGNORECASE)
_SUFFIX = (r"(?:Inc|Incorporated|Corp|Corporation|Co|Company|LLC|L\.L\.C|Ltd|Limited|LP|L\.P"
           r"|LLP|L\.L\.P|plc|PLC|N\.V|B\.V|S\.A|AG|GmbH|AB|ASA|A/S|SE|Holdings|Group)")
_PARTY_END = re.compile(
    r"\s*(?:\(|,\s*(?:a|an|the|with|having|whose|located|organized|incorporated|on\s+behalf"
    r"|its|together|each|collectively|and\s+its)\b|,\s*an?\s|\s+(?:a|an)\s+(?:[A-Z][a-z]+\s+)?"
    r"(?:corporation|company|limited|partnership|individual|resident|national|Delaware|Nevada)"
    r"|;|:|\n\n|\s+and\s+(?=[A-Z“\"])|\s+hereinafter|\s+\(“|\s+located|\s+with\s+(?:its|offices)"
    r"|\s+residing|\s+whose|\s+having\b|\s+\(hereinafter)",
)
_TITLES = re.compile(r",?\s*\b(?:M\.D|Ph\.D|Esq|Jr|Sr)\b\.?(?=[\s,]|$)|^(?:Mr|Mrs|Ms|Dr)\.?\s+")
PARTY_SCAN_CHARS = 2_500
_PARTY_REACH = 400  # a name's end lies within 120 characters; its match, a little further
_COMPANY_NAME = re.compile(  # "Norcraft Companies, Inc.", "AEROSONIC CORPORATION"
    # A capital first, then the look behind it: the regex engine skips ahead to capitals.
    r"[A-Z](?<![\w.][A-Z])[\w’'.&-]*,?\s+(?:(?:and|of|&)\s+)?"
    r"(?:[A-Z][\w’'.&-]*,?\s+(?:(?:and|of|&)\s+)?){0,5}"
    r"(?:Inc\.?|Incorporated|INC\.?|Corporation|CORPORATION|Corp\.|LLC|L\.L\.C\.|Ltd\.?|Limited"
    r"|LIMITED|L\.P\.|LP|LLP|Company|COMPANY|plc|PLC|N\.V\.|AG|GmbH|S\.A\.)(?![\w])"
)
_OF_BEFORE = re.compile(r"\bof\s+$")


def find_contract_fields(text: str, dates: list[Field]) -> list[Field]:
    fields = [_effective_date(text, dates), _jurisdiction(text), _term(text)]
    return [field for field in fields if field is not None] + _parties(text)


def _effective_date(text: str, dates: list[Field]) -> Field | None:
    head = text[:HEAD_CHARS]
    candidates = [d for d in dates if d.start < HEAD_CHARS]
    for match in _day_of_dates(head):
        try:
            day = date(int(match["year"]), _MONTHS[match["month"].lower()], int(match["day"]))
        except ValueError:
            continue
        candidates.append(Field("date", match.group(), day.isoformat(), match.start(),
                                match.end(), 0.9))
    candidates.sort(key=lambda field: field.start)
    for candidate in candidates:
        cue = _EFFECTIVE_CUE.search(head[max(0, candidate.start - 40) : candidate.start])
        if cue:
            return Field("effective_date", candidate.value, candidate.normalized,
                         candidate.start, candidate.end, 0.85)
    return None


def _day_of_dates(head: str) -> list[re.Match[str]]:
    """"13th day of July, 2011", looked for only just before a year: the scan skips ahead."""
    found: dict[int, re.Match[str]] = {}
    for year in _YEAR.finditer(head):
        for match in _DAY_OF.finditer(head, max(0, year.start() - _DAY_OF_REACH), year.end()):
            found.setdefault(match.start(), match)
    return [found[start] for start in sorted(found)]


_GOVERNED = re.compile(r"govern|constru|interpret|enforc", re.IGNORECASE)


def _jurisdiction(text: str) -> Field | None:
    found = []
    for law in _laws(text):  # every "the laws of New York" starts with a "law" too
        if _word_before(text, law.start()):
            continue  # "outlaw", "bylaws"
        governing = _GOVERNING.match(text, law.start())
        if governing:
            found.append(governing)
        words = text[max(0, law.start() - 40) : law.start()].split()
        for size in (3, 2, 1):
            if len(words) >= size and " ".join(words[-size:]).lower() in _PLACE_NAMES:
                before = _PLACE_BEFORE.search(text, max(0, law.start() - 40), law.start())
                if before:
                    found.append(before)
                break
    found.sort(key=lambda m: m.start())
    if not found:
        return None
    names = Counter(_place(m) for m in found)
    governed = [m for m in found if _GOVERNED.search(text, max(0, m.start() - 150), m.start())]
    best = (governed or found)[0]
    name = _place(best)
    confidence = 0.9 if governed else 0.6
    if names[name] > 1:
        confidence = min(0.95, confidence + 0.05)
    group = "place" if "place" in best.groupdict() else "place2"
    start, end = best.start(group), best.end(group)
    return Field("jurisdiction", text[start:end], name, start, end, confidence)


def _laws(text: str) -> list[re.Match[str]]:
    """Every "law"/"laws" in text order; str.find skips ahead faster than any regex."""
    starts = sorted(at for spelling in ("law", "Law", "LAW") for at in occurrences(text, spelling))
    return [law for at in starts if (law := _LAW.match(text, at))]


def _word_before(text: str, position: int) -> bool:
    return position > 0 and (text[position - 1].isalnum() or text[position - 1] == "_")


def _place(match: re.Match[str]) -> str:
    raw = collapse(match.group("place" if "place" in match.groupdict() else "place2"))
    canonical = {place.lower(): place for place in _STATES}
    return canonical.get(raw.lower(), raw)


def _term(text: str) -> Field | None:
    for unit in _UNIT.finditer(text):
        if _word_before(text, unit.start()) or text[unit.start() - 1 : unit.start()] == "-":
            continue  # "today", "per-day"
        count = _count_before(text, unit.start())
        if count is None:
            continue
        start, spoken = count
        number = int(spoken) if spoken.isdigit() else _NUMBERS[spoken.lower()]
        unit_name = unit["unit"].lower()
        if number <= 0 or (unit_name == "day" and number < 30):
            continue  # cheap checks first: the cue search reads up to 300 characters
        end = unit.end()
        sentence_start = max(text.rfind(".", 0, start), start - 300)
        before = text[sentence_start:start]
        after = text[end : end + 80]
        if _NOT_TERM.search(before[-40:] + after[:30]) or not _TERM_CUE.search(before):
            continue
        code = {"year": "Y", "month": "M", "day": "D"}[unit_name]
        return Field("term", text[start:end], f"P{number}{code}", start, end, 0.7)
    return None


def _count_before(text: str, position: int) -> tuple[int, str] | None:
    """The count just before a unit: "two (2) years", "24-month", "three years"."""
    window_start = max(0, position - 30)
    words = list(_COUNT_WORD.finditer(text, window_start, position))
    if words and words[-1].group().startswith("(") and len(words) >= 2:
        words.pop()  # "two (2)": the word is the count, the figure repeats it
    if not words:
        return None
    gap = _FIGURE.sub("", text[words[-1].end() : position])
    if gap.strip(" -\t\n") != "":
        return None
    word = words[-1].group()
    if word.isdigit() and len(word) <= 3 or word.lower() in _NUMBERS:
        return words[-1].start(), word
    return None


def _parties(text: str) -> list[Field]:
    """Who is bound: the names after "between ... and ...", else the first companies named."""
    head = text[:HEAD_CHARS]
    parties = _parties_between(head)
    if len(parties) < 2:
        seen = {party.normalized.upper() for party in parties}
        for company in _COMPANY_NAME.finditer(head[:PARTY_SCAN_CHARS]):
            name = _party_name(company.group())
            if name and name.upper() not in seen and not _OF_BEFORE.search(
                head, max(0, company.start() - 4), company.start()
            ):
                seen.add(name.upper())
                parties.append(Field("party", company.group(), name, company.start(),
                                     company.end(), 0.4))
                if len(parties) == 2:
                    break
    return parties


def _parties_between(head: str) -> list[Field]:
    start = _PARTY_START.search(head)
    if start is None:
        return []
    parties: list[Field] = []
    position = start.end()
    for _ in range(3):
        end = _PARTY_END.search(head, position, position + _PARTY_REACH)  # not the whole head
        if end is None or end.start() - position > 120 or end.start() == position:
            break
        raw = head[position : end.start()]
        name = _party_name(raw)
        if name:
            offset = len(raw) - len(raw.lstrip())
            value = raw.strip()
            parties.append(Field("party", value, name, position + offset,
                                 position + offset + len(value), 0.6))
        next_and = _NEXT_PARTY.search(head, end.start(), end.start() + 400)
        if next_and is None:
            break
        position = next_and.end()
    return parties


_NEXT_PARTY = re.compile(r"\band\s+(?!its\b|their\b|the\s+(?:other|undersigned)\b)",
                         re.IGNORECASE)
_CANONICAL_SUFFIX = [
    (re.compile(r"\bIncorporated$", re.IGNORECASE), "Inc."),
    (re.compile(r"\bInc\.?$", re.IGNORECASE), "Inc."),
    (re.compile(r"\bLimited$", re.IGNORECASE), "Ltd."),
    (re.compile(r"\bLtd\.?$", re.IGNORECASE), "Ltd."),
    (re.compile(r"\bCorp\.?$", re.IGNORECASE), "Corp."),
    (re.compile(r"\bCo\.?$"), "Co."),
    (re.compile(r"\bL\.\s?P\.?$"), "LP"),
    (re.compile(r"\bL\.\s?L\.\s?C\.?$"), "LLC"),
    (re.compile(r"\bL\.\s?L\.\s?P\.?$"), "LLP"),
]


_LEADING_THE = re.compile(r"^(?:the\s+)", re.IGNORECASE)
_DBA = re.compile(r"\s+d/b/a\s.*$", re.IGNORECASE)
_SUFFIX_DOT = re.compile(rf"\b{_SUFFIX}\.$")
_NAME_START = re.compile(r"[A-Z0-9“\"]")
_NOT_A_NAME = re.compile(r"\b(?:agree|dated|hereto|following|provisions|shall)\b", re.IGNORECASE)


def _party_name(raw: str) -> str | None:
    name = _TITLES.sub("", collapse(raw))
    name = name.strip(" ,;:\"“”'")
    name = _LEADING_THE.sub("", name)
    name = _DBA.sub("", name)
    name = name.replace("&", "and").replace(",", "").replace("’", "'")
    name = collapse(name).rstrip(".") if not _SUFFIX_DOT.search(name) else name
    for pattern, canonical in _CANONICAL_SUFFIX:
        name = pattern.sub(canonical, name)
    words = name.split()
    if not 1 <= len(words) <= 10 or not _NAME_START.match(name):
        return None
    if name.lower() in {"the company", "company", "the parties", "the undersigned"} or \
            _NOT_A_NAME.search(name):
        return None
    return name
