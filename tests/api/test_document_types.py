"""Document types are data users can change, and corrections are kept as labels."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.config import Settings
from docflow.store import Document, DocumentStatus, open_store


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, configure_logs=False)) as c:
        yield c


def test_the_default_types_are_there_from_the_start(client: TestClient) -> None:
    names = {t["name"] for t in client.get("/api/document-types").json()}
    assert {"invoice", "receipt", "contract", "letter", "email", "form", "resume",
            "scientific_paper", "news_article", "report", "other"} <= names
    invoice = client.get("/api/document-types/invoice").json()
    assert invoice["builtin"] and invoice["keywords"]["invoice"] > 0


def test_a_user_type_is_created_changed_and_deleted(client: TestClient) -> None:
    body = {"name": "purchase_order", "description": "An order to buy goods.",
            "keywords": ["purchase order", "po number"],
            "rules": [{"kind": "regex", "pattern": r"PO-\d{6}"}]}
    created = client.post("/api/document-types", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["keywords"] == {"purchase order": 2.0, "po number": 2.0}
    assert client.post("/api/document-types", json=body).status_code == 409
    changed = client.put("/api/document-types/purchase_order",
                         json={"description": "Orders.", "keywords": {"po": 3}})
    assert changed.status_code == 200 and changed.json()["rules"] == []
    assert client.delete("/api/document-types/purchase_order").status_code == 204
    assert client.get("/api/document-types/purchase_order").status_code == 404
    assert client.delete("/api/document-types/other").status_code == 409


@pytest.mark.parametrize("rule", [{"kind": "regex", "pattern": "(unclosed"},
                                  {"kind": "regex", "pattern": "[z-a]"},
                                  {"kind": "any", "pattern": "  "},
                                  {"kind": "sometimes", "pattern": "x"}])
def test_a_rule_that_cannot_run_is_refused_when_saved(client: TestClient, rule: dict) -> None:
    reply = client.put("/api/document-types/broken", json={"rules": [rule]})
    assert reply.status_code == 422 and reply.json()["code"] in ("invalid_rule",
                                                                 "invalid_request")
    assert client.get("/api/document-types/broken").status_code == 404


def test_a_correction_sets_the_type_as_a_label_and_fixes_fields(settings: Settings,
                                                                 client: TestClient) -> None:
    doc_id = client.post("/api/upload", files={"file": ("a.txt", b"hello")}).json()["document_id"]
    store = open_store(settings)
    with store.db.write() as session:
        doc = session.get(Document, doc_id)
        doc.status, doc.doc_type, doc.needs_review = DocumentStatus.COMPLETED, "letter", True
        doc.fields = [{"name": "total", "value": "1", "normalized": "1.00 USD", "start": 0,
                       "end": 1, "confidence": 0.4}]
    reply = client.patch(f"/api/documents/{doc_id}", json={
        "doc_type": "invoice", "fields": [{"name": "total", "value": "$12.50",
                                           "normalized": "12.50 USD"}]})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["doc_type"] == {"name": "invoice", "confidence": 1.0, "decider": "user",
                                "model_version": None}
    assert not body["needs_review"]
    assert [(f["name"], f["normalized"]) for f in body["fields"]] == [("total", "12.50 USD")]
    (total,) = body["fields"]
    # a label: set by a person, when, and no evidence span since "hello" does not print it
    assert total["source"] == "user" and total["labeled_at"] and total["start"] == -1
    with store.db.read() as session:
        doc = session.get(Document, doc_id)
        assert doc.labeled_type == "invoice" and doc.labeled_at and not doc.indexed
    unknown = client.patch(f"/api/documents/{doc_id}", json={"doc_type": "nonsense"})
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_type"
    assert client.patch("/api/documents/nope", json={}).status_code == 404
    store.db.dispose()


def test_a_type_with_too_many_rules_or_an_overlong_pattern_is_refused(
        client: TestClient) -> None:
    many = [{"kind": "any", "pattern": f"word{i}"} for i in range(101)]
    reply = client.put("/api/document-types/greedy", json={"rules": many})
    assert reply.status_code == 422 and reply.json()["code"] == "invalid_rule"
    assert "at most 100 rules" in reply.json()["message"]
    long = [{"kind": "regex", "pattern": "a" * 1001}]
    assert client.put("/api/document-types/greedy", json={"rules": long}).status_code == 422
    assert client.get("/api/document-types/greedy").status_code == 404
    ok = client.put("/api/document-types/greedy", json={"rules": many[:100]})
    assert ok.status_code == 201
