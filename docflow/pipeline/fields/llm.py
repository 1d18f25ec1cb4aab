"""Key fields a language model read, kept only where the text shows them.

Asked only when configured, and only for the key fields of the document's type that the
extractors did not find. The model is told to copy each value as the document writes it; a
value that cannot be found in the text is dropped (no evidence, no field), and dates and money
are normalised by the same finders as everywhere else, so an LLM field reads like any other.
Durations are not asked for: their normal form (P2Y) needs the contract reader's context.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from ..types import Field
from .dates import find_dates
from .money import find_money
from .schema import MENTIONS, FieldKind, FieldSpec, schema_for

# Asks a model: instructions and the document's text in, its JSON answer (or None) out.
AskJson = Callable[[str, str], object | None]

CONFIDENCE = 0.6  # the model found it and the text shows it; the extractors did not
PROMPT_CHARS = 6_000
_ASKED = (FieldKind.DATE, FieldKind.MONEY, FieldKind.TEXT, FieldKind.ADDRESS,
          FieldKind.IDENTIFIER)


def read_fields(text: str, doc_type: str | None, found: list[Field], ask: AskJson,
                *, dayfirst: bool = True) -> list[Field]:
    """The key fields of `doc_type` missing from `found`, as the model reads them from `text`."""
    have = {field.name for field in found}
    wanted = [spec for spec in schema_for(doc_type)
              if spec.name not in MENTIONS | have and spec.kind in _ASKED]
    if not wanted:
        return []
    head = text[:PROMPT_CHARS]
    answer = ask(_instructions(wanted), head)
    if not isinstance(answer, dict):
        return []
    fields = []
    for spec in wanted:
        given = answer.get(spec.name)
        values = given if isinstance(given, list) and spec.multiple else [given]
        for value in values:
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                continue
            field = _evidenced(spec, str(value), head, dayfirst)
            if field is not None:
                fields.append(field)
                if not spec.multiple:
                    break
    return fields


def _evidenced(spec: FieldSpec, value: str, text: str, dayfirst: bool) -> Field | None:
    words = value.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(word) for word in words)  # line breaks may split it
    match = re.search(pattern, text, re.IGNORECASE)
    if match is None:
        return None
    written = match.group()
    normalized = _normalized(spec.kind, written, dayfirst)
    if normalized is None:
        return None
    return Field(spec.name, written, normalized, match.start(), match.end(), CONFIDENCE)


def _normalized(kind: FieldKind, written: str, dayfirst: bool) -> str | None:
    if kind is FieldKind.DATE:
        date = next(find_dates(written, dayfirst=dayfirst), None)
        return date.normalized if date is not None else None
    if kind is FieldKind.MONEY:
        money = next(find_money(written), None)
        return money.normalized if money is not None else None
    return " ".join(written.split())


def _instructions(wanted: list[FieldSpec]) -> str:
    lines = [f"- {spec.name}: {spec.description}"
             + (" (a list: every one)" if spec.multiple else "") for spec in wanted]
    example = json.dumps({spec.name: None for spec in wanted})
    return (
        "You read documents and copy out facts. Find these fields in the document the user "
        "sends:\n" + "\n".join(lines) + "\n"
        "Copy each value exactly as the document writes it (same words, numbers and "
        "currency); use null when the document does not say. Answer with JSON only, in the "
        f"form {example}."
    )
