"""Lines of a text with their character offsets, and values that follow a label.

Receipts and invoices put a label and its value on one line ("Total: 12.00") or, after OCR or
PDF extraction of a table, on the next line ("TOTAL\\nRM 12.00"). Both are read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


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


SHORT_TEXT = 5_000


def windows(
    text: str, anchors: tuple[re.Pattern[str] | str, ...], before: int, after: int
) -> list[tuple[int, int]]:
    """Merged spans around each anchor hit: where a costly pattern can possibly match.

    A full-text scan with a complex pattern costs microseconds per character; most of a long
    contract holds no date or amount at all. Cheap anchors (a year, "@", a currency sign) find
    the few places worth the full pattern. Several simple anchors beat one alternation: the
    regex engine skips ahead fast only for a pattern that starts with a literal or a class.
    An anchor given as a plain string is found with str.find, faster still.
    """
    if len(text) <= SHORT_TEXT:  # a receipt: one pass of the full pattern is cheaper
        return [(0, len(text))]
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
    spans = []
    at = text.find(anchor)
    while at >= 0:
        spans.append((at, at + len(anchor)))
        at = text.find(anchor, at + 1)
    return spans
