"""The store keeps document types, field labels and classifier models per tenant: the scope's
filter covers types and labels like documents, every tenant starts from its own built-in
types, hints and training read one tenant's labels, and the housekeeper asks for each tenant's
training on its own count. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import delete, func, select, update

from docflow.config import Settings
from docflow.pipeline.classify.trained import TrainedClassifier
from docflow.store import DocumentStatus, Store
from docflow.store import documents as docs
from docflow.store.document_types import ensure_defaults, get_type, list_types, save_type
from docflow.store.field_labels import CorrectedField, correct_fields, labels_stamp, learned_hints
from docflow.store.models import DocumentType, FieldLabel, utcnow
from docflow.store.scope import DEFAULT_TENANT, tenant_scope
from docflow.store.tenants import Tenant, create_tenant
from docflow.worker.housekeeper import _ask_for_training
from docflow.worker.training import (
    labels_since,
    load_current,
    models_dir,
    tenant_models_dir,
    train_classifier,
)
from tests.conftest import put


def _tenants(store: Store, *names: str) -> None:
    with store.db.write() as session:
        for name in names:
            create_tenant(session, name)


def test_a_new_tenant_gets_its_own_copy_of_the_built_in_types(any_store: Store) -> None:
    _tenants(any_store, "acme")
    with any_store.db.read() as session:
        default = {t.name: t.keywords for t in list_types(session, DEFAULT_TENANT)}
        acme = {t.name: t.keywords for t in list_types(session, "acme")}
    assert acme == default and {"invoice", "other"} <= set(acme)


def test_the_scope_filters_types_and_labels_and_outside_one_nothing_is(
        any_store: Store) -> None:
    _tenants(any_store, "acme", "globex")
    with tenant_scope("globex"), any_store.db.write() as session:
        save_type(session, "merger", "Globex's merger papers.", ["project falcon"], [])
    with tenant_scope("acme"), any_store.db.write() as session:
        assert get_type(session, "merger") is None
        assert session.get(DocumentType, ("globex", "merger")) is None
        assert "merger" not in {t.name for t in session.scalars(select(DocumentType))}
        changed = session.execute(update(DocumentType).where(DocumentType.name == "merger")
                                  .values(description="hijacked"))
        assert changed.rowcount == 0  # type: ignore[attr-defined]
        gone = session.execute(delete(DocumentType).where(DocumentType.name == "merger"))
        assert gone.rowcount == 0  # type: ignore[attr-defined]
        mine = session.scalar(select(func.count()).select_from(DocumentType))
    with any_store.db.read() as session:  # the system sees every tenant's
        merger = session.get(DocumentType, ("globex", "merger"))
        assert merger is not None and merger.description == "Globex's merger papers."
        every = session.scalar(select(func.count()).select_from(DocumentType))
    assert every == 3 * mine + 1  # default, acme and globex's built-in set, and the merger


TEXT = "Acme Trading Ltd\nInvoice\nAmount to settle: EUR {amount}\n"


def _corrected(store: Store, tenant: str, amount: str) -> str:
    """A completed invoice of `tenant` whose total a person corrected."""
    with tenant_scope(tenant), store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, f"{tenant}{amount}".encode())])
        doc.status, doc.doc_type = DocumentStatus.COMPLETED, "invoice"
        doc.fields = [{"name": "vendor", "value": "Acme Trading Ltd",
                       "normalized": "Acme Trading Ltd", "start": 0, "end": 16,
                       "confidence": 0.8}]
        correct_fields(session, doc, [CorrectedField("total", amount, f"{amount} EUR")],
                       TEXT.format(amount=amount))
        return doc.id


def test_a_tenants_corrections_teach_its_own_hints_only(any_store: Store) -> None:
    _tenants(any_store, "acme", "globex")
    with any_store.db.read() as session:
        before = labels_stamp(session, "globex")
    _corrected(any_store, "acme", "10.00")
    _corrected(any_store, "acme", "20.00")
    with any_store.db.read() as session:
        acme = learned_hints(session, "acme")
        assert learned_hints(session, "globex") == []
        assert learned_hints(session, DEFAULT_TENANT) == []
        assert labels_stamp(session, "globex") == before  # globex's workers reload nothing
        assert set(session.scalars(select(FieldLabel.tenant_id))) == {"acme"}
    assert [(h.doc_type, h.anchor, h.count) for h in acme] == [
        ("invoice", "amount to settle", 2)]
    with tenant_scope("globex"), any_store.db.read() as session:  # the scope alone, too
        assert learned_hints(session) == []
        assert session.scalars(select(FieldLabel)).all() == []


def test_ensure_defaults_fills_in_a_tenant_without_types_and_leaves_the_others(
        any_store: Store) -> None:
    _tenants(any_store, "acme")
    with any_store.db.write() as session:
        session.execute(delete(DocumentType).where(DocumentType.name != "other"))
        session.add(Tenant(name="bare", created_at=utcnow()))  # made without its types
    with any_store.db.write() as session:
        ensure_defaults(session)
    with any_store.db.read() as session:
        assert [t.name for t in list_types(session, "acme")] == ["other"]  # its choice
        assert {"invoice", "other"} <= {t.name for t in list_types(session, "bare")}


def _labelled(store: Store, tenant: str, texts: list[str], doc_type: str) -> None:
    with tenant_scope(tenant), store.db.write() as session:
        for n, text in enumerate(texts):
            item = put(store, text.encode(), f"{n}.txt")
            (doc,) = docs.register_documents(session, [item])
            docs.save_extraction(session, item.blob.sha256, format="text",
                                 mime_type="text/plain", text=text, pages=[text], page_count=1)
            doc.status = DocumentStatus.COMPLETED
            doc.labeled_type, doc.labeled_at = doc_type, utcnow()


RECIPES = [f"Recipe {i}: whisk the eggs, fold in flour and bake the cake." for i in range(4)]
POEMS = [f"Poem {i}: the moonlit river sings of silver night." for i in range(4)]


def test_training_reads_one_tenants_labels_and_keeps_its_model_apart(
        any_store: Store, settings: Settings) -> None:
    _tenants(any_store, "acme", "globex")
    _labelled(any_store, "acme", RECIPES, "recipe")
    _labelled(any_store, "acme", POEMS, "poem")
    _labelled(any_store, "globex", RECIPES[:2], "dessert")
    _labelled(any_store, "globex", POEMS[:2], "verse")

    globex = train_classifier(any_store, settings, "globex")
    assert globex.label_counts == {"dessert": 2, "verse": 2}
    acme = train_classifier(any_store, settings, "acme")
    assert acme.label_counts == {"poem": 4, "recipe": 4}
    assert (tenant_models_dir(settings, "acme") / acme.version).is_dir()

    loaded = load_current(any_store, settings, "globex")
    assert loaded is not None and loaded.version == globex.version
    assert set(loaded.labels) == {"dessert", "verse"}  # acme's training did not replace it
    assert load_current(any_store, settings, DEFAULT_TENANT) is None
    assert labels_since(any_store, settings, "acme") == 0
    _labelled(any_store, "globex", ["Poem 9: night."], "verse")
    assert labels_since(any_store, settings, "globex") == 1
    assert labels_since(any_store, settings, "acme") == 0


class _Training:
    """The broker's side of `send_training`: which tenants were asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def send_training(self, tenant: str) -> bool:
        self.asked.append(tenant)
        return True


def test_the_housekeeper_asks_for_a_tenants_training_on_its_own_labels(
        any_store: Store, settings: Settings) -> None:
    settings.retrain_after_labels = 3
    _tenants(any_store, "acme", "globex")
    _labelled(any_store, "acme", RECIPES[:3], "recipe")
    _labelled(any_store, "globex", POEMS[:2], "verse")  # under the bar alone
    sent = _Training()
    next_training: dict[str, float] = {}
    _ask_for_training(any_store, settings, sent, next_training)  # type: ignore[arg-type]
    assert sent.asked == ["acme"]
    _labelled(any_store, "globex", POEMS[2:3], "verse")
    _ask_for_training(any_store, settings, sent, next_training)  # type: ignore[arg-type]
    assert sent.asked == ["acme", "globex"]  # acme waits for its model to land


def _legacy_model(settings: Settings, trained_at: str) -> str:
    """A model as training saved it before tenants had models: <data dir>/models/<version>."""
    model = TrainedClassifier.fit(RECIPES + POEMS, ["recipe"] * 4 + ["poem"] * 4,
                                  version="legacy-1")
    model.save(models_dir(settings) / "legacy-1")
    (models_dir(settings) / "current").write_text(json.dumps(
        {"version": "legacy-1", "labels_until": trained_at}))
    return "legacy-1"


def test_a_model_from_before_tenants_serves_the_default_tenant_only_if_no_other_could_be_in_it(
        any_store: Store, settings: Settings) -> None:
    version = _legacy_model(settings, (utcnow() - timedelta(hours=1)).isoformat())
    model = load_current(any_store, settings, DEFAULT_TENANT)
    assert model is not None and model.version == version
    _tenants(any_store, "acme")  # made after it was trained: none of its labels are in it
    assert load_current(any_store, settings, DEFAULT_TENANT) is not None
    assert load_current(any_store, settings, "acme") is None

    with any_store.db.write() as session:  # a tenant that existed when it was trained
        session.execute(update(Tenant).where(Tenant.name == "acme")
                        .values(created_at=utcnow() - timedelta(days=1)))
    assert load_current(any_store, settings, DEFAULT_TENANT) is None
