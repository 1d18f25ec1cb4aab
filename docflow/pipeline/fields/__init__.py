"""Key facts in a document's text, normalised, each with the span of its evidence.

Two layers (see schema.py):
- mentions: every date, amount, e-mail, phone number, IBAN and VAT id, found by regex and
  confirmed by a validator (dateutil, price-parser, phonenumbers, python-stdnum), without
  overlaps (a date is not also a phone number);
- key fields of the document's type: document/due/effective date, total, subtotal, tax,
  invoice or receipt number, vendor, address, parties, jurisdiction, term.
Everything runs over a bounded prefix of the text, so a 50 MB text costs no more than a long one,
and the mentions that hold digits are read only from the parts of it near digits (lines.Excerpt).
"""

from __future__ import annotations

from ..types import Field
from .commerce import find_commerce_fields, find_document_date
from .contracts import find_contract_fields
from .dates import find_dates
from .emails import find_emails
from .ids import find_ibans, find_ids, find_vat_ids
from .lines import Excerpt
from .money import find_money
from .phones import DEFAULT_REGION, find_phones
from .schema import GENERIC, MENTIONS, SCHEMAS, FieldKind, FieldSpec, schema_for

__all__ = [
    "GENERIC",
    "MENTIONS",
    "SCAN_CHARS",
    "SCHEMAS",
    "FieldKind",
    "FieldSpec",
    "extract_fields",
    "find_dates",
    "find_emails",
    "find_ibans",
    "find_money",
    "find_phones",
    "find_vat_ids",
    "schema_for",
]

SCAN_CHARS = 200_000  # key fields sit in the first pages; a 50 MB text must not take minutes
# When spans overlap, the more specific reading wins: an address's digits are not a phone.
_PRIORITY = {"email": 0, "iban": 1, "vat_id": 2, "date": 3, "amount": 4, "phone": 5}


def extract_fields(
    text: str,
    doc_type: str | None = None,
    *,
    dayfirst: bool = True,
    region: str = DEFAULT_REGION,
    max_chars: int = SCAN_CHARS,
) -> list[Field]:
    """Mentions in text order, then the key fields of `doc_type`'s schema (none if None)."""
    scanned = text[:max_chars]
    near_digits = Excerpt(scanned)  # every date, amount, id and phone number holds a digit
    mentions = _without_overlaps(
        [
            *find_emails(scanned),
            *near_digits.placed(
                [
                    *find_ids(near_digits.text),  # IBANs and VAT ids
                    *find_dates(near_digits.text, dayfirst=dayfirst),
                    *find_money(near_digits.text),
                    *find_phones(near_digits.text, region=region),
                ]
            ),
        ]
    )
    wanted = {spec.name for spec in schema_for(doc_type)} - MENTIONS
    if not wanted:
        return mentions
    dates = [field for field in mentions if field.name == "date"]
    if wanted & {"party", "jurisdiction", "term", "effective_date"}:
        key_fields = find_contract_fields(scanned, dates)
    elif wanted & {"total", "vendor"}:
        number_name = "invoice_number" if "invoice_number" in wanted else "receipt_number"
        amounts = [field for field in mentions if field.name == "amount"]
        key_fields = find_commerce_fields(scanned, dates, amounts, number_name=number_name)
    else:
        key_fields = [field for field in [find_document_date(scanned, dates)] if field]
    return mentions + [field for field in key_fields if field.name in wanted]


def _without_overlaps(fields: list[Field]) -> list[Field]:
    kept: list[Field] = []
    for candidate in sorted(fields, key=lambda f: (f.start, _PRIORITY[f.name], -f.end)):
        if kept and candidate.start < kept[-1].end:
            if _PRIORITY[candidate.name] < _PRIORITY[kept[-1].name]:
                kept[-1] = candidate  # the later-starting, more specific reading replaces it
            continue
        kept.append(candidate)
    return kept
