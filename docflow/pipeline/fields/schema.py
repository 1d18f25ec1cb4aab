"""Which key fields each document type has, what kind of value each holds, how it is written.

Every document also gets its *mentions*: each date, amount, e-mail, phone number, IBAN and VAT id
found anywhere (names "date", "amount", "email", "phone", "iban", "vat_id"). Key fields are the
few facts a person looks for first, picked from the text by their labels and position.

Normalised forms: dates ISO 8601 (2024-03-12); money "1234.50 EUR" (a decimal and the ISO 4217
code; the number alone when the document never names its currency); durations ISO 8601
(P2Y, P18M, P30D); phones E.164; IBAN and VAT ids compact upper case; names and addresses with
their whitespace collapsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FieldKind(StrEnum):
    DATE = "date"
    MONEY = "money"
    TEXT = "text"
    ADDRESS = "address"
    IDENTIFIER = "identifier"
    DURATION = "duration"
    EMAIL = "email"
    PHONE = "phone"
    IBAN = "iban"
    VAT_ID = "vat_id"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: FieldKind
    description: str
    multiple: bool = False  # several values are normal (the parties of a contract)


DOCUMENT_DATE = FieldSpec("document_date", FieldKind.DATE, "The date the document was issued.")
DUE_DATE = FieldSpec("due_date", FieldKind.DATE, "The date by which payment is due.")
EFFECTIVE_DATE = FieldSpec("effective_date", FieldKind.DATE, "The date the agreement starts.")
TOTAL = FieldSpec("total", FieldKind.MONEY, "The amount to pay or paid, tax included.")
SUBTOTAL = FieldSpec("subtotal", FieldKind.MONEY, "The amount before tax.")
TAX = FieldSpec("tax", FieldKind.MONEY, "The tax (VAT, GST, sales tax) charged.")
INVOICE_NUMBER = FieldSpec("invoice_number", FieldKind.IDENTIFIER, "The invoice's number.")
RECEIPT_NUMBER = FieldSpec("receipt_number", FieldKind.IDENTIFIER,
                           "The receipt's or bill's number.")
VENDOR = FieldSpec("vendor", FieldKind.TEXT, "The company that issued the document.")
ADDRESS = FieldSpec("address", FieldKind.ADDRESS, "The issuer's postal address.")
PARTY = FieldSpec("party", FieldKind.TEXT, "A person or company bound by the agreement.",
                  multiple=True)
JURISDICTION = FieldSpec("jurisdiction", FieldKind.TEXT, "Whose law governs the agreement.")
TERM = FieldSpec("term", FieldKind.DURATION, "How long the agreement or its duties last.")
EMAIL = FieldSpec("email", FieldKind.EMAIL, "E-mail addresses.", multiple=True)
PHONE = FieldSpec("phone", FieldKind.PHONE, "Phone numbers.", multiple=True)
IBAN = FieldSpec("iban", FieldKind.IBAN, "Bank accounts (IBAN).", multiple=True)
VAT_ID = FieldSpec("vat_id", FieldKind.VAT_ID, "VAT or GST registration numbers.", multiple=True)

_CONTACT = (EMAIL, PHONE)
SCHEMAS: dict[str, tuple[FieldSpec, ...]] = {
    "invoice": (DOCUMENT_DATE, DUE_DATE, INVOICE_NUMBER, VENDOR, ADDRESS, TOTAL, SUBTOTAL, TAX,
                IBAN, VAT_ID, *_CONTACT),
    "receipt": (DOCUMENT_DATE, RECEIPT_NUMBER, VENDOR, ADDRESS, TOTAL, SUBTOTAL, TAX, VAT_ID,
                *_CONTACT),
    "contract": (EFFECTIVE_DATE, PARTY, JURISDICTION, TERM, *_CONTACT),
    "letter": (DOCUMENT_DATE, *_CONTACT),
    "email": (DOCUMENT_DATE, *_CONTACT),
    "form": (DOCUMENT_DATE, *_CONTACT),
    "report": (DOCUMENT_DATE, *_CONTACT),
}
GENERIC: tuple[FieldSpec, ...] = (DOCUMENT_DATE, *_CONTACT, IBAN, VAT_ID)
MENTIONS = frozenset({"date", "amount", "email", "phone", "iban", "vat_id"})


def schema_for(doc_type: str | None) -> tuple[FieldSpec, ...]:
    """The key fields of a type; types without a schema of their own get the generic one."""
    if doc_type is None:
        return ()
    return SCHEMAS.get(doc_type, GENERIC)
