"""Corrected fields are kept as labels, and labels of the same kind group into hints."""

from __future__ import annotations

from docflow.store import Document, DocumentStatus, Store
from docflow.store import documents as docs
from docflow.store.field_labels import (
    CorrectedField,
    correct_fields,
    labels_stamp,
    learned_hints,
)
from tests.conftest import put

TEXT = "Acme Trading Ltd\nInvoice\nAmount to settle: EUR {amount}\n"


def _completed(store: Store, amount: str) -> str:
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, amount.encode(), "a.txt")])
        doc.status, doc.doc_type = DocumentStatus.COMPLETED, "invoice"
        doc.fields = [{"name": "vendor", "value": "Acme Trading Ltd",
                       "normalized": "Acme Trading Ltd", "start": 0, "end": 16,
                       "confidence": 0.8}]
        return doc.id


def test_two_corrections_after_one_label_make_one_hint_taught_twice(any_store: Store) -> None:
    ids = [_completed(any_store, amount) for amount in ("10.00", "20.00")]
    with any_store.db.read() as session:
        empty = labels_stamp(session)
    for doc_id, amount in zip(ids, ("10.00", "20.00"), strict=True):
        with any_store.db.write() as session:
            doc = session.get(Document, doc_id)
            correct_fields(session, doc, [CorrectedField("total", amount, f"{amount} EUR")],
                           TEXT.format(amount=amount))
    with any_store.db.write() as session:  # correcting again replaces the label
        doc = session.get(Document, ids[0])
        correct_fields(session, doc, [CorrectedField("total", "10.00", "10.00 EUR")],
                       TEXT.format(amount="10.00"))
        total = next(f for f in doc.fields if f["name"] == "total")
        printed = TEXT.format(amount="10.00").index("10.00")
        assert (total["source"], total["start"]) == ("user", printed)
    with any_store.db.read() as session:
        hints = learned_hints(session)
        assert labels_stamp(session) != empty
    assert [(h.doc_type, h.field, h.kind, h.anchor, h.issuer, h.count) for h in hints] == [
        ("invoice", "total", "money", "amount to settle", "Acme Trading Ltd", 2)]
