"""A configured language model fills in key fields the extractors missed, and only where the
text shows them; a real HTTP server on a local port stands in for the model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from docflow.pipeline import process_document
from docflow.pipeline.classify import DEFAULT_DOC_TYPES, LlmClassifier, LlmSettings
from tests.fake_llm import FakeModelServer

INVOICE = """Northwind Trading GmbH
Hafenstrasse 12, 20457 Hamburg

INVOICE
Our reference: NW/2024/0815
Issued on 12 March 2024
Consulting services, March: EUR 1,000.00
VAT 19%: EUR 190.00
Please pay EUR 1,190.00 within 30 days."""


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    fake = FakeModelServer()
    yield fake
    fake.close()


def _fields(server: FakeModelServer, text: str = INVOICE) -> dict[str, tuple[str, str, int]]:
    llm = LlmClassifier(DEFAULT_DOC_TYPES, LlmSettings(server.url, "m"))
    result = process_document(text.encode(), "inv.txt", ask_fields=llm.ask_json)
    assert result.classification.doc_type == "invoice"
    return {f.name: (f.value, f.normalized, f.start) for f in result.fields
            if f.name not in ("date", "amount")}


def test_missing_key_fields_are_read_by_the_model_with_their_evidence(server) -> None:
    server.reply = {"invoice_number": "NW/2024/0815", "total": "EUR 1,190.00",
                    "subtotal": "EUR 1,000.00", "due_date": None}
    fields = _fields(server)
    assert fields["invoice_number"] == ("NW/2024/0815", "NW/2024/0815",
                                        INVOICE.index("NW/2024/0815"))
    assert fields["total"][1:] == ("1190.00 EUR", INVOICE.index("EUR 1,190.00"))
    assert fields["subtotal"][1] == "1000.00 EUR"
    assert "due_date" not in fields
    # Only what the extractors missed is asked for; what they found stays theirs.
    asked = server.requests[0][1]["messages"][0]["content"]
    assert "invoice_number" in asked and "total" in asked and "due_date" in asked
    assert "vendor" not in asked and "document_date" not in asked
    assert fields["vendor"][0] == "Northwind Trading GmbH"


def test_a_value_the_text_does_not_show_is_dropped(server) -> None:
    server.reply = {"invoice_number": "INV-99", "total": "USD 5,000.00",
                    "due_date": "11 April 2024", "subtotal": "a thousand euros"}
    fields = _fields(server)
    assert not {"invoice_number", "total", "due_date", "subtotal"} & set(fields)


def test_a_value_broken_over_lines_and_a_date_are_found_and_normalised(server) -> None:
    text = INVOICE.replace("within 30 days.", "by the\n11th of April 2024,\nref NW/2024/0815.")
    server.reply = {"due_date": "11th of April 2024", "invoice_number": "nw/2024/0815"}
    fields = _fields(server, text)
    assert fields["due_date"][1] == "2024-04-11"
    assert fields["invoice_number"][0] == "NW/2024/0815"  # as the document writes it


def test_a_model_that_fails_leaves_the_extracted_fields_alone(server) -> None:
    server.status = 500
    without = process_document(INVOICE.encode(), "inv.txt").fields
    llm = LlmClassifier(DEFAULT_DOC_TYPES, LlmSettings(server.url, "m"))
    with_failing_model = process_document(INVOICE.encode(), "inv.txt", ask_fields=llm.ask_json)
    assert with_failing_model.fields == without and len(server.requests) == 1
    assert "500" in llm.last_error
