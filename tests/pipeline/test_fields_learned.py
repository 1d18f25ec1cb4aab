"""What corrections teach, as plain data: where a corrected value is printed, the label before
it, and reading the same field after that label in the next document."""

from __future__ import annotations

from docflow.pipeline.fields import extract_fields
from docflow.pipeline.fields.learned import FieldHint, LearnedFields, label_field

RECEIPT = """KEDAI RUNCIT MAJU JAYA
NO 5, JALAN MAWAR, 43000 KAJANG
Tarikh Resit: 14/02/2019
Item A        2.50
Item B        7.00
Jumlah Perlu Dibayar RM 9.50
TUNAI RM 10.00
BAKI RM 0.50
"""


def test_a_corrected_value_is_found_with_the_label_before_it() -> None:
    label = label_field(RECEIPT, "total", "9.50", "9.50 MYR")
    assert label is not None and RECEIPT[label.start:label.end] == "9.50"
    assert label.anchor == "jumlah perlu dibayar"  # the currency before the value is no label
    by_number = label_field(RECEIPT, "total", "", "9.50 MYR")  # only the normalised form
    assert by_number is not None and RECEIPT[by_number.start:by_number.end] == "RM 9.50"
    date = label_field(RECEIPT, "document_date", "", "2019-02-14")
    assert date is not None and (RECEIPT[date.start:date.end], date.anchor) == (
        "14/02/2019", "tarikh resit")
    assert label_field(RECEIPT, "total", "12.34", "12.34 MYR") is None  # not printed


def test_a_label_on_the_line_above_is_learned_too() -> None:
    text = "ACME GmbH\nRechnungsnummer\nRE-2024-118\nBetrag\n40,00 EUR\n"
    label = label_field(text, "invoice_number", "RE-2024-118")
    assert label is not None and label.anchor == "rechnungsnummer"
    amount = label_field(text, "total", "", "40.00 EUR")  # "40,00" is the same amount
    assert amount is not None and (text[amount.start:amount.end], amount.anchor) == (
        "40,00 EUR", "betrag")
    # words before the value on its own line are its label, not the line above
    assert label_field("Widgets\n2 x 3.00", "total", "3.00").anchor is None


def test_a_learned_label_reads_the_value_in_the_next_document_of_that_issuer() -> None:
    fields = extract_fields(RECEIPT, "receipt")
    assert not any(f.name == "total" and f.normalized == "9.50 MYR" for f in fields)
    hints = LearnedFields([FieldHint("receipt", "total", "money", "jumlah perlu dibayar",
                                     "KEDAI RUNCIT MAJU JAYA", 2)])
    learned = hints.apply(RECEIPT, "receipt", fields)
    (total,) = [f for f in learned if f.name == "total"]
    assert (total.normalized, total.source) == ("9.50 MYR", "learned")
    assert RECEIPT[total.start:total.end] == "RM 9.50" and total.confidence > 0.9
    assert hints.apply(RECEIPT, "invoice", fields) == fields  # taught for receipts only


def test_a_label_from_other_issuers_fills_a_gap_but_does_not_overrule_a_sure_reading() -> None:
    text = "SOME SHOP\nAmount to settle: $12.00\n"
    one_shop = LearnedFields([FieldHint("receipt", "total", "money", "amount to settle",
                                        "OTHER SHOP", 1)])
    (total,) = [f for f in one_shop.apply(text, "receipt", []) if f.name == "total"]
    assert total.normalized == "12.00 USD" and total.confidence < 0.35
    sure = extract_fields("SOME SHOP\nTotal due: $15.00\nAmount to settle: $12.00\n", "receipt")
    kept = one_shop.apply("SOME SHOP\nTotal due: $15.00\nAmount to settle: $12.00\n", "receipt",
                          sure)
    assert [f.normalized for f in kept if f.name == "total"] == ["15.00 USD"]
