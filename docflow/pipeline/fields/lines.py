"""Lines of a text with their character offsets, and values that follow a label.

Receipts and invoices put a label and its value on one line ("Total: 12.00") or, after OCR or
PDF extraction of a table, on the next line ("TOTAL\\nRM 12.00"). Both are read here.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, replace

from ..types import Field


@dataclass(frozen=True)
class Line:
    start: int
    end: int
    text: str


_LINE = re.compile(r"[^\n]+")


def split_lines(text: str) -> list[Line]:
    """Non-blank lines with their spans, surrounding spaces excluded from the span."""
    lines = []
    for match in _LINE.finditer(text):
        raw = match.group()
        stripped = raw.strip()
        if stripped:
            start = match.start() + (len(raw) - len(raw.lstrip()))
            lines.append(Line(start, start + len(stripped), stripped))
    return lines


def line_index_at(lines: list[Line], position: int) -> int:
    """Index of the line holding `position` (or the last line starting before it)."""
    low, high = 0, len(lines) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if lines[middle].start <= position:
            low = middle
        else:
            high = middle - 1
    return low


def collapse(text: str) -> str:
    return " ".join(text.split())



def windows(
    text: str, anchors: tuple[re.Pattern[str] | str, ...], before: int, after: int
) -> list[tuple[int, int]]:
    """Merged spans around each anchor hit: where a costly pattern can possibly match.

    A full-text scan with a complex pattern costs microseconds per character; most of a long
    contract holds no date or amount at all. Cheap anchors (a year, "@", a currency sign) find
    the few places worth the full pattern. Several simple anchors beat one alternation: the
    regex engine skips ahead fast only for a pattern that starts with a literal or a class.
    An anchor given as a plain string is found with str.find, faster still. Even a receipt
    gains: the full date pattern costs ~200 ns a character, an anchor scan ~5.
    """
    hits = sorted(span for anchor in anchors for span in _hits(text, anchor))
    spans: list[tuple[int, int]] = []
    for hit_start, hit_end in hits:
        low, high = max(0, hit_start - before), min(len(text), hit_end + after)
        if spans and low <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], high))
        else:
            spans.append((low, high))
    return spans


def _hits(text: str, anchor: re.Pattern[str] | str) -> list[tuple[int, int]]:
    if not isinstance(anchor, str):
        return [hit.span() for hit in anchor.finditer(text)]
    return [(at, at + len(anchor)) for at in occurrences(text, anchor)]


def occurrences(text: str, word: str) -> list[int]:
    """Where `word` starts in `text`, in order: str.find skips ahead faster than any regex."""
    found = []
    at = text.find(word)
    while at >= 0:
        found.append(at)
        at = text.find(word, at + 1)
    return found


DIGIT_MARGIN = 48  # around digits: an IBAN's letters, a month name, "NIP:", a currency code
_DIGIT_RUNS = re.compile(rf"\d(?:\D{{0,{2 * DIGIT_MARGIN}}}\d)*")  # digits, gaps merged
_MOSTLY = 0.6  # an excerpt this large saves less than the joining costs: keep the text whole


class Excerpt:
    """The parts of a text near its digits, joined by blank lines, with a way back to the
    text's own offsets.

    Dates, amounts, phone numbers and bank or tax ids all hold digits; in a long contract the
    digits sit in a fifth of the text. Finders read the excerpt instead of the text and
    `placed` moves what they found back onto the text. Each part widens to whitespace, so a
    pattern sees whole words at its edges, as it would in the text.
    """

    SEPARATOR = "\n\n"

    def __init__(self, text: str) -> None:
        parts = _digit_regions(text)
        if sum(end - start for start, end in parts) >= _MOSTLY * len(text):
            parts = [(0, len(text))]
        self.whole = parts == [(0, len(text))]
        self._origins = [start for start, _ in parts]
        self._starts: list[int] = []
        offset = 0
        for start, end in parts:
            self._starts.append(offset)
            offset += end - start + len(self.SEPARATOR)
        self.text = text if self.whole else self.SEPARATOR.join(text[a:b] for a, b in parts)

    def placed(self, fields: list[Field]) -> list[Field]:
        """`fields` found in the excerpt, with their spans in the text; a match that ran
        across a separator has no single span in the text and is dropped."""
        if self.whole:
            return fields
        out = []
        for field in fields:
            part = bisect_right(self._starts, field.start) - 1
            if bisect_right(self._starts, field.end - 1) - 1 != part:
                continue
            shift = self._origins[part] - self._starts[part]
            out.append(replace(field, start=field.start + shift, end=field.end + shift))
        return out


def _digit_regions(text: str) -> list[tuple[int, int]]:
    regions: list[tuple[int, int]] = []
    for run in _DIGIT_RUNS.finditer(text):
        start = _word_start(text, max(0, run.start() - DIGIT_MARGIN))
        end = _word_end(text, min(len(text), run.end() + DIGIT_MARGIN))
        if regions and start <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(end, regions[-1][1]))
        else:
            regions.append((start, end))
    return regions


_REACH = 32  # how far a part widens to reach whitespace; a longer token is cut


def _word_start(text: str, position: int) -> int:
    """`position`, moved back to just after a space or line break (within reach)."""
    low = max(0, position - _REACH)
    space = max(text.rfind(" ", low, position), text.rfind("\n", low, position))
    return position if position == 0 or text[position - 1].isspace() or space < 0 else space + 1


def _word_end(text: str, position: int) -> int:
    """`position`, moved on to the next space or line break (within reach)."""
    if position >= len(text) or text[position].isspace():
        return position
    found = [at for at in (text.find(" ", position, position + _REACH),
                           text.find("\n", position, position + _REACH)) if at >= 0]
    return min(found) if found else position
