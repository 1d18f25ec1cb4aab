"""Dates, amounts, e-mail addresses and phone numbers, normalised, with spans on the evidence."""

from __future__ import annotations

import pytest

from docflow.pipeline import Field, extract_fields


def found(text: str, name: str) -> list[tuple[str, str]]:
    return [(f.value, f.normalized) for f in extract_fields(text) if f.name == name]


def test_every_span_points_at_its_evidence() -> None:
    text = (
        "Invoice dated 12 March 2024, total €1.234,50, questions to Billing@ACME.example "
        "or +44 20 7946 0958."
    )
    fields = extract_fields(text)
    assert {f.name for f in fields} == {"date", "amount", "email", "phone"}
    for field in fields:
        assert text[field.start : field.end] == field.value
        assert 0 < field.confidence <= 1
    assert [f.start for f in fields] == sorted(f.start for f in fields)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Issued 2024-03-12.", "2024-03-12"),
        ("Issued 12/03/2024.", "2024-03-12"),  # day first by default
        ("Issued 31.12.2023.", "2023-12-31"),
        ("Issued 12 March 2024.", "2024-03-12"),
        ("Issued 1st Feb 2024.", "2024-02-01"),
        ("Issued March 12, 2024.", "2024-03-12"),
        ("Issued Sept. 3rd 2024.", "2024-09-03"),
        ("Issued 13/04/24.", "2024-04-13"),
        ("DATE: 28 MAR 18 14:02", "2018-03-28"),  # receipt printers abbreviate
        ("Date 24-MAR-2018", "2018-03-24"),
    ],
)
def test_dates_are_normalised_to_iso(text: str, iso: str) -> None:
    assert [normalized for _, normalized in found(text, "date")] == [iso]


def test_month_first_dates_when_asked() -> None:
    fields = extract_fields("Due 03/04/2024", dayfirst=False)
    assert fields[0].normalized == "2024-03-04"


def test_an_ambiguous_numeric_date_has_lower_confidence() -> None:
    ambiguous, clear = extract_fields("03/04/2024 and 25/04/2024")
    assert ambiguous.confidence < clear.confidence


@pytest.mark.parametrize(
    "text",
    ["version 1.2.3", "IP 192.168.10.12", "2024-13-45", "32/01/2024", "page 12 of 30", "1/2"],
)
def test_things_that_are_not_dates(text: str) -> None:
    assert found(text, "date") == []


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("Total $1,234.50", "1234.50 USD"),
        ("Total 1.234,50 €", "1234.50 EUR"),
        ("Total €99", "99.00 EUR"),
        ("Total £5", "5.00 GBP"),
        ("Total EUR 12,000", "12000.00 EUR"),
        ("Total 100 USD", "100.00 USD"),
        ("Total CHF 1'250.00", "1250.00 CHF"),
        ("Total ¥1000", "1000 JPY"),
        ("TOTAL RM 9.00", "9.00 MYR"),
    ],
)
def test_money_is_an_amount_and_a_currency_code(text: str, normalized: str) -> None:
    assert [n for _, n in found(text, "amount")] == [normalized]


def test_numbers_without_a_currency_are_not_money() -> None:
    assert found("Order 1234 shipped 12 items weighing 3.5 kg", "amount") == []
    assert found("See FORM 12 and USDA 5", "amount") == []  # letters inside words are no currency


def test_emails_are_lower_cased() -> None:
    assert found("Write to John.Doe@Example.COM, or <info@acme.co.uk>.", "email") == [
        ("John.Doe@Example.COM", "john.doe@example.com"),
        ("info@acme.co.uk", "info@acme.co.uk"),
    ]


def test_phone_numbers_are_e164_and_only_valid_ones() -> None:
    text = "Call (212) 555-0199, +44 20 7946 0958 or 650-253-0000; not 555-0100 or 123."
    assert [n for _, n in found(text, "phone")] == ["+12125550199", "+442079460958", "+16502530000"]


def test_a_date_is_not_also_a_phone_number() -> None:
    fields = extract_fields("Delivered 2024-03-12 to the depot.")
    assert [f.name for f in fields] == ["date"]


def test_huge_texts_are_scanned_only_up_to_the_cap() -> None:
    text = "Pay $10 by 2024-01-01. " + "lorem ipsum dolor " * 100_000 + " Pay $20 later."
    fields = extract_fields(text, max_chars=50_000)
    assert [f.normalized for f in fields] == ["10.00 USD", "2024-01-01"]


def test_fields_are_the_shared_type() -> None:
    assert all(isinstance(f, Field) for f in extract_fields("mail a@b.io"))
