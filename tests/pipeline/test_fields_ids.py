"""Bank accounts, tax ids and phone numbers count only when their check digits say so."""

from __future__ import annotations

import pytest

from docflow.pipeline.fields import extract_fields, find_ibans, find_phones, find_vat_ids


def values(fields: list) -> list[tuple[str, str]]:
    return [(field.value, field.normalized) for field in fields]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IBAN: GB29 NWBK 6016 1331 9268 19.", [("GB29 NWBK 6016 1331 9268 19",
                                                 "GB29NWBK60161331926819")]),
        ("Rekening NL50INGB0683251309 t.n.v. Coolblue", [("NL50INGB0683251309",
                                                          "NL50INGB0683251309")]),
        ("IBAN DE30507500940000048567 SWIFT HELADEF1GEL", [("DE30507500940000048567",
                                                            "DE30507500940000048567")]),
        ("IBAN GB29 NWBK 6016 1331 9268 18", []),  # one digit off: the checksum fails
        ("ORDER AB12 3456 7890 1234", []),
    ],
)
def test_ibans_are_validated_and_compacted(text: str, expected: list) -> None:
    assert values(list(find_ibans(text))) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("USt-IdNr.: DE 136 695 976", [("DE 136 695 976", "DE136695976")]),
        ("BTW NL810433941B01 KvK 24330087", [("NL810433941B01", "NL810433941B01")]),
        ("TVA intracom FR60421938861", [("FR60421938861", "FR60421938861")]),
        ("VAT Reg No: GB 980 7806 84", [("GB 980 7806 84", "GB980780684")]),
        ("GSTIN 06AABCO6063D1ZQ", [("06AABCO6063D1ZQ", "06AABCO6063D1ZQ")]),
        ("NIP: 774-000-14-54", [("774-000-14-54", "PL7740001454")]),
        ("VAT DE 136 695 977", []),  # invalid check digit
        ("Model DE1234 series", []),
    ],
)
def test_vat_ids_are_validated(text: str, expected: list) -> None:
    assert values(list(find_vat_ids(text))) == expected


def test_phone_numbers_of_another_country_need_its_region() -> None:
    text = "TEL: 03-4141 2222  FAX: 03-4141 2223"
    assert values(list(find_phones(text))) == []  # not valid US numbers
    assert [n for _, n in values(list(find_phones(text, region="MY")))] == [
        "+60341412222", "+60341412223"
    ]


def test_ids_dates_and_amounts_are_not_phone_numbers() -> None:
    text = ("GST ID NO: 001531760640 DATE 25/12/2018 8:13:39 PM barcode 9556939040116 "
            "total 1234567.00")
    assert list(find_phones(text)) == []


def test_two_numbers_on_one_line_are_both_found() -> None:
    text = "TEL : 07-5547360 / 016-7993391"
    assert [n for _, n in values(list(find_phones(text, region="MY")))] == [
        "+6075547360", "+60167993391"
    ]


def test_an_iban_is_not_also_a_phone_or_an_amount() -> None:
    fields = extract_fields("Pay to DE30 5075 0094 0000 0485 67 by 2024-05-01.")
    assert [(f.name, f.normalized) for f in fields] == [
        ("iban", "DE30507500940000048567"),
        ("date", "2024-05-01"),
    ]


def test_long_documents_are_scanned_quickly_and_completely() -> None:
    filler = "The parties agree to the terms set out in section 4.2 of schedule 3. " * 400
    text = filler + "Contact +44 20 7946 0958, billing@acme.example, pay €1.234,50 by 3 May " \
        "2024 to DE30507500940000048567." + filler
    found = {(f.name, f.normalized) for f in extract_fields(text)}
    assert {
        ("phone", "+442079460958"),
        ("email", "billing@acme.example"),
        ("amount", "1234.50 EUR"),
        ("date", "2024-05-03"),
        ("iban", "DE30507500940000048567"),
    } <= found


def test_in_a_long_prose_text_the_facts_near_digits_keep_their_true_spans() -> None:
    # Prose without digits is skipped; what is found there must still point at the text.
    prose = "The receiving party shall hold the information in confidence and use it only " \
        "for the purpose agreed by both parties. " * 150
    facts = ["Signed on 3 May 2024 in London.",
             "Contact +44 20 7946 0958 or pay €1.234,50 to DE30507500940000048567.",
             "Invoices to billing@acme.example; NIP: 774-000-14-54."]
    text = prose + facts[0] + prose + facts[1] + prose + facts[2] + prose
    fields = extract_fields(text, "contract")
    expected = {("date", "2024-05-03"), ("phone", "+442079460958"), ("amount", "1234.50 EUR"),
                ("iban", "DE30507500940000048567"), ("email", "billing@acme.example"),
                ("vat_id", "PL7740001454")}
    assert expected <= {(f.name, f.normalized) for f in fields}
    for field in fields:
        assert text[field.start : field.end] == field.value, field
    mentions = [f for f in fields if f.name in {name for name, _ in expected}]
    assert [f.start for f in mentions] == sorted(f.start for f in mentions)
