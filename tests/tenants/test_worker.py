"""A worker reads each document with its own tenant's types, learned field hints and trained
model: nothing one tenant defines, corrects or trains reaches another's documents. The real
task runs in this process, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from docflow.config import Settings
from docflow.store import Document, Store
from docflow.worker import ocr_parts, results, tasks
from docflow.worker import runtime as runtime_module
from docflow.worker.classifier import ClassifierCache
from docflow.worker.learned_fields import LearnedFieldsCache
from docflow.worker.tasks import process_document
from tests.worker.test_learned_fields import brightwater_invoice


@pytest.fixture
def worker(settings: Settings, any_store: Store,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The task's runtime on the test's database, with caches of its own (each module imported
    the shared ones by name) that look at the database again for every document."""
    monkeypatch.setenv("DOCFLOW_DATABASE_URL", any_store.db.url)
    runtime_module._current = None
    classifiers = ClassifierCache(refresh_seconds=0)
    learned = LearnedFieldsCache(refresh_seconds=0)
    for module in (results, tasks, ocr_parts):
        monkeypatch.setattr(module, "classifiers", classifiers)
        monkeypatch.setattr(module, "learned_fields", learned)
    yield
    runtime_module._current = None


def _upload(client: TestClient, content: bytes, name: str) -> str:
    r = client.post("/api/upload", files={"file": (name, content, "text/plain")})
    assert r.status_code == 202, r.text
    return r.json()["document_id"]  # type: ignore[no-any-return]


def _processed(client: TestClient, store: Store, content: bytes, name: str) -> Document:
    doc_id = _upload(client, content, name)
    assert process_document(doc_id) == "processed"
    with store.db.read() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        return doc


def _total(doc: Document) -> dict[str, object]:
    (field,) = [f for f in doc.fields or [] if f["name"] == "total"]
    return field


ORDER = b"INVOICE number 7. Amount due $5. Our ref PO-123456."


def test_a_type_that_exists_only_in_one_tenant_never_labels_anothers_document(
        worker: None, acme: TestClient, globex: TestClient, any_store: Store) -> None:
    made = acme.put("/api/document-types/purchase_order", json={
        "description": "An order to buy goods.", "keywords": ["purchase order"],
        "rules": [{"kind": "regex", "pattern": r"PO-\d{6}"}]})
    assert made.status_code == 201, made.text
    # Never looked at again: acme's classifier, built first, is kept; a cache that held one
    # classifier for every tenant would hand it to globex's document.
    tasks.classifiers.refresh_seconds = 1e9
    mine = _processed(acme, any_store, ORDER, "po.txt")
    assert (mine.doc_type, mine.classifier) == ("purchase_order", "user_rules")
    theirs = _processed(globex, any_store, ORDER + b" ", "po.txt")
    assert theirs.doc_type == "invoice" and theirs.classifier != "user_rules"
    again = _processed(acme, any_store, ORDER + b"  ", "po2.txt")
    assert again.doc_type == "purchase_order"


def test_a_correction_in_one_tenant_does_not_change_extraction_for_anothers_documents(
        worker: None, acme: TestClient, globex: TestClient, any_store: Store) -> None:
    amounts = [(1200.0, 34.5), (310.0, 12.25), (88.4, 9.9)]
    for n in range(2):
        doc = _processed(acme, any_store, brightwater_invoice(n, *amounts[n]), f"bw{n}.txt")
        due = sum(amounts[n])
        r = acme.patch(f"/api/documents/{doc.id}", json={"fields": [
            {"name": "total", "value": f"{due:,.2f}", "normalized": f"{due:.2f} GBP"}]})
        assert r.status_code == 200, r.text

    expected = f"{sum(amounts[2]):.2f} GBP"
    mine = _processed(acme, any_store, brightwater_invoice(2, *amounts[2]), "bw2.txt")
    assert (_total(mine)["normalized"], _total(mine)["source"]) == (expected, "learned")
    # The same invoice at globex: read by the rules, as before anyone corrected anything.
    theirs = _processed(globex, any_store, brightwater_invoice(2, *amounts[2]) + b"\n",
                        "bw2.txt")
    assert (_total(theirs)["normalized"], _total(theirs)["source"]) == ("88.40 GBP",
                                                                        "extracted")


RECIPES = [f"Recipe {i}: whisk the eggs, fold in flour, bake the sponge cake at 180C."
           for i in range(6)]
POEMS = [f"Poem {i}: the moonlit river sings of longing, verses of silver night."
         for i in range(6)]


def _label(client: TestClient, store: Store, texts: list[str], doc_type: str) -> None:
    assert client.put(f"/api/document-types/{doc_type}", json={}).status_code in (200, 201)
    for n, text in enumerate(texts):
        doc = _processed(client, store, text.encode(), f"{doc_type}{n}.txt")
        r = client.patch(f"/api/documents/{doc.id}", json={"doc_type": doc_type})
        assert r.status_code == 200, r.text


def test_retraining_one_tenant_leaves_anothers_model_alone(
        worker: None, acme: TestClient, globex: TestClient, any_store: Store,
        settings: Settings) -> None:
    _label(acme, any_store, RECIPES, "recipe")
    _label(acme, any_store, POEMS, "poem")
    _label(globex, any_store, RECIPES[:3], "memo")  # globex's own labels: too few to train
    assert globex.get("/api/classifier").json()["new_labels"] == 3
    r = globex.post("/api/classifier/train")
    assert (r.status_code, r.json()["code"]) == (422, "not_enough_labels")  # not acme's 12

    trained = acme.post("/api/classifier/train")
    assert trained.status_code == 200, trained.text
    assert trained.json()["label_counts"] == {"poem": 6, "recipe": 6}
    version = trained.json()["version"]
    assert (Path(settings.resolved_data_dir) / "models" / "tenants" / "acme" / version).is_dir()

    theirs = globex.get("/api/classifier").json()
    assert (theirs["version"], theirs["trained_on"], theirs["new_labels"]) == (None, 0, 3)
    cake = b"Whisk the eggs and bake the sponge with flour."
    mine = _processed(acme, any_store, cake, "cake.txt")
    assert (mine.doc_type, mine.classifier, mine.model_version) == ("recipe", "trained",
                                                                    version)
    other = _processed(globex, any_store, cake + b" ", "cake.txt")
    assert other.classifier != "trained" and other.model_version is None
    assert other.doc_type != "recipe"  # a type globex does not have
