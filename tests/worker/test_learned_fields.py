"""Field corrections teach the worker: after a person corrects the total of a few invoices from
one vendor, the next invoices of that vendor get the right total, read after the same label."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.config import Settings
from docflow.store import Document, Store
from docflow.store import documents as docs
from docflow.worker import runtime as runtime_module
from docflow.worker import tasks
from docflow.worker.learned_fields import LearnedFieldsCache
from docflow.worker.tasks import process_document
from tests.conftest import put


@pytest.fixture(autouse=True)
def fresh_worker(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime_module._current = None
    monkeypatch.setattr(tasks, "learned_fields", LearnedFieldsCache(refresh_seconds=0))


def brightwater_invoice(number: int, goods: float, freight: float,
                        vendor: str = "Brightwater Supplies Ltd") -> bytes:
    """The vendor prints the goods as "Total" and what is owed after an unusual label."""
    return f"""{vendor}
12 Harbour Road, Leeds LS1 4AB
INVOICE
Invoice number BW-{number:04d}
Invoice date: {number % 27 + 1:02d} March 2024
Description              Qty      Price
Copper fittings          {number + 2}        {goods:,.2f}
Total                             {goods:,.2f}
Freight and handling              {freight:,.2f}
Balance to remit              GBP {goods + freight:,.2f}
Payment within 30 days. Thank you for your business.
""".encode()


def _process(store: Store, content: bytes, name: str) -> Document:
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, content, name)])
    assert process_document(doc.id) == "processed"
    with store.db.read() as session:
        return session.get(Document, doc.id)


def _field(doc: Document, name: str) -> dict:
    (field,) = [f for f in doc.fields if f["name"] == name]
    return field


def test_corrected_totals_teach_the_label_for_the_next_invoices_of_that_vendor(
        store: Store, settings: Settings) -> None:
    amounts = [(1200.0, 34.5), (310.0, 12.25), (88.4, 9.9), (2450.0, 61.0), (19.99, 4.5)]
    first = [_process(store, brightwater_invoice(n, *amounts[n]), f"bw{n}.txt") for n in range(2)]
    for doc in first:  # before any correction the rules take the goods total
        assert doc.doc_type == "invoice"
        assert _field(doc, "total")["source"] == "extracted"
    assert _field(first[0], "total")["normalized"] == "1200.00 GBP"

    with TestClient(create_app(settings, configure_logs=False)) as client:
        for n, doc in enumerate(first):
            due = sum(amounts[n])
            reply = client.patch(f"/api/documents/{doc.id}", json={"fields": [
                {"name": "total", "value": f"{due:,.2f}", "normalized": f"{due:.2f} GBP"}]})
            assert reply.status_code == 200, reply.text
            body = reply.json()
            total = next(f for f in body["fields"] if f["name"] == "total")
            assert total["source"] == "user" and total["labeled_at"]
            # the label keeps where the value is printed
            assert body["text"][total["start"]:total["end"]] == f"{due:,.2f}"

        later = [_process(store, brightwater_invoice(n, *amounts[n]), f"bw{n}.txt")
                 for n in range(2, 5)]
        for n, doc in zip(range(2, 5), later, strict=True):
            total = _field(doc, "total")
            assert (total["normalized"], total["source"]) == (f"{sum(amounts[n]):.2f} GBP",
                                                              "learned")
            assert total["confidence"] > 0.9
            shown = client.get(f"/api/documents/{doc.id}").json()
            start, end = total["start"], total["end"]
            assert shown["text"][start:end] == total["value"]
            assert shown["text"][:end].splitlines()[-1].startswith("Balance to remit")

    # Another vendor with the same layout has not been corrected: one vendor's habit is
    # not trusted over the rules' confident reading elsewhere.
    other = _process(store, brightwater_invoice(9, 500.0, 20.0, vendor="Harbourside Tools Ltd"),
                     "ht.txt")
    assert _field(other, "total")["normalized"] == "500.00 GBP"
    assert _field(other, "total")["source"] == "extracted"


def test_a_type_correction_moves_the_labels_to_the_new_type(store: Store,
                                                            settings: Settings) -> None:
    from docflow.store.field_labels import learned_hints

    doc = _process(store, brightwater_invoice(3, 100.0, 5.0), "bw.txt")
    with TestClient(create_app(settings, configure_logs=False)) as client:
        client.patch(f"/api/documents/{doc.id}", json={"fields": [
            {"name": "total", "value": "105.00", "normalized": "105.00 GBP"}]})
        with store.db.read() as session:
            assert [(h.doc_type, h.field, h.anchor, h.issuer) for h in learned_hints(session)] \
                == [("invoice", "total", "balance to remit", "Brightwater Supplies Ltd")]
        client.put("/api/document-types/statement", json={"description": "A statement."})
        assert client.patch(f"/api/documents/{doc.id}",
                            json={"doc_type": "statement"}).status_code == 200
        with store.db.read() as session:
            assert [h.doc_type for h in learned_hints(session)] == ["statement"]
