"""Each type has its key fields: an invoice's total and due date, a contract's parties."""

from __future__ import annotations

import pytest

from docflow.pipeline import Field, extract_fields
from docflow.pipeline.fields import GENERIC, MENTIONS, SCHEMAS, FieldKind, schema_for

INVOICE = """ACME Supplies Ltd
12 Industrial Way, Leeds LS1 4AB
Tel: +44 113 496 0000   VAT Reg No: GB 980 7806 84

INVOICE
Invoice Number: INV-2024-0042        Invoice Date: 12 March 2024
Due Date: 11 April 2024
Bill To: Northwind Traders, 5 Harbour Road, Bristol

Description                 Qty   Unit Price    Amount
A4 paper, 5 reams            10      £4.50       £45.00
Toner cartridge               2     £39.00       £78.00
Subtotal                                        £123.00
VAT 20%                                          £24.60
Amount Due                                      £147.60

Payment terms: 30 days. Please remit to IBAN GB29 NWBK 6016 1331 9268 19.
Questions? accounts@acme.example
"""

RECEIPT = """FRESHMART SDN BHD
(123456-X)
NO. 12, JALAN BUNGA RAYA,
TAMAN MELATI, 53100 KUALA LUMPUR
TEL: 03-4141 2222
RECEIPT NO: R0012345
DATE: 05/01/2019 18:22
MILK 1L            6.50
BREAD              3.20
SUB TOTAL          9.70
ROUNDING          -0.05
TOTAL
RM 9.65
CASH              20.00
CHANGE            10.35
THANK YOU, PLEASE COME AGAIN
"""

CONTRACT = """MUTUAL NON-DISCLOSURE AGREEMENT
This Mutual Non-Disclosure Agreement (the "Agreement") is entered into as of March 1, 2021
(the "Effective Date") by and between Contoso Pharma, Inc., a Delaware corporation ("Contoso"),
and Fabrikam Labs LLC, a California limited liability company ("Fabrikam").
1. Term. This Agreement shall remain in effect for a period of three (3) years from the
Effective Date.
2. Notices. Notices shall be given within 10 days of receipt.
3. Governing Law. This Agreement shall be governed by and construed in accordance with the
laws of the State of New York, without regard to its conflict of laws principles.
"""


def key(text: str, doc_type: str) -> dict[str, list[Field]]:
    out: dict[str, list[Field]] = {}
    for field in extract_fields(text, doc_type):
        if field.name not in MENTIONS:
            out.setdefault(field.name, []).append(field)
    return out


def normalized(text: str, doc_type: str) -> dict[str, list[str]]:
    return {name: [f.normalized for f in fields] for name, fields in key(text, doc_type).items()}


def test_an_invoice_has_its_dates_amounts_number_and_issuer() -> None:
    assert normalized(INVOICE, "invoice") == {
        "document_date": ["2024-03-12"],
        "due_date": ["2024-04-11"],
        "total": ["147.60 GBP"],
        "subtotal": ["123.00 GBP"],
        "tax": ["24.60 GBP"],
        "invoice_number": ["INV-2024-0042"],
        "vendor": ["ACME Supplies Ltd"],
        "address": ["12 Industrial Way, Leeds LS1 4AB"],
    }


def test_an_invoice_also_lists_its_bank_account_tax_id_and_contacts() -> None:
    found = {(f.name, f.normalized) for f in extract_fields(INVOICE, "invoice")}
    assert {
        ("iban", "GB29NWBK60161331926819"),
        ("vat_id", "GB980780684"),
        ("email", "accounts@acme.example"),
        ("phone", "+441134960000"),
    } <= found


def test_a_receipt_total_is_what_was_paid_after_rounding() -> None:
    fields = normalized(RECEIPT, "receipt")
    assert fields["total"] == ["9.65 MYR"]  # not the 9.70 before rounding
    assert fields["subtotal"] == ["9.70 MYR"]
    assert fields["receipt_number"] == ["R0012345"]
    assert fields["document_date"] == ["2019-01-05"]
    assert fields["vendor"] == ["FRESHMART SDN BHD"]  # without its registration number
    assert fields["address"] == ["NO. 12, JALAN BUNGA RAYA, TAMAN MELATI, 53100 KUALA LUMPUR"]


def test_a_contract_has_its_parties_law_date_and_term() -> None:
    assert normalized(CONTRACT, "contract") == {
        "effective_date": ["2021-03-01"],
        "jurisdiction": ["New York"],
        "term": ["P3Y"],  # ISO 8601 duration; "10 days of receipt" is a notice period
        "party": ["Contoso Pharma Inc.", "Fabrikam Labs LLC"],
    }


def test_every_key_field_points_at_its_evidence() -> None:
    for text, doc_type in ((INVOICE, "invoice"), (RECEIPT, "receipt"), (CONTRACT, "contract")):
        for field in extract_fields(text, doc_type):
            assert text[field.start : field.end] == field.value, field
            assert 0 < field.confidence <= 1
    total = key(INVOICE, "invoice")["total"][0]
    assert total.value == "£147.60"


def test_a_date_written_in_french_or_german_is_read() -> None:
    french = "Facture n°562044387 du 02 Juillet 2015\nSomme à payer 29.99 € TTC"
    fields = normalized(french, "invoice")
    assert fields["document_date"] == ["2015-07-02"]
    assert fields["total"] == ["29.99 EUR"]
    assert fields["invoice_number"] == ["562044387"]
    german = "Rechnungsdatum: 7. Mai 2014\nGesamtbetrag 34,73 EUR"
    assert normalized(german, "invoice")["document_date"] == ["2014-05-07"]
    assert normalized(german, "invoice")["total"] == ["34.73 EUR"]


def test_without_a_type_only_mentions_are_reported() -> None:
    names = {field.name for field in extract_fields(INVOICE)}
    assert names <= MENTIONS


def test_each_type_has_a_schema_and_unknown_types_get_the_generic_one() -> None:
    assert {spec.name for spec in schema_for("invoice")} >= {"total", "due_date", "iban"}
    assert schema_for("recipe") == GENERIC
    assert schema_for(None) == ()
    assert all(isinstance(spec.kind, FieldKind) for specs in SCHEMAS.values() for spec in specs)
    assert next(s for s in schema_for("contract") if s.name == "party").multiple


def test_a_letter_gets_its_date() -> None:
    letter = "Leeds, 3 May 2023\n\nDear Ms Smith,\nThank you.\nYours sincerely,\nJohn"
    assert normalized(letter, "letter") == {"document_date": ["2023-05-03"]}


@pytest.mark.parametrize("doc_type", ["invoice", "receipt", "contract", "letter", "other"])
def test_empty_and_odd_texts_do_not_break_extraction(doc_type: str) -> None:
    for text in ("", "\n\n", "TOTAL", "TOTAL\n:\n", "between", "Dear", "€", "RM\n"):
        assert isinstance(extract_fields(text, doc_type), list)
