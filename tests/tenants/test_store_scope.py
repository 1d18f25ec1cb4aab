"""The store's tenant filter itself: ORM reads and writes in a scope, and the Core statements
that read embeddings, on both databases."""

from __future__ import annotations

from sqlalchemy import func, select, update

from docflow.store import Document, DocumentStatus, Store
from docflow.store.documents import find_completed_twin, register_documents
from docflow.store.embeddings import nearest, vector_bytes
from docflow.store.scope import tenant_scope
from docflow.worker.children import register_children
from tests.conftest import put


def test_a_scope_filters_reads_updates_and_counts_and_outside_one_nothing_is(
        any_store: Store) -> None:
    item = put(any_store, b"bytes")
    with tenant_scope("acme"), any_store.db.write() as session:
        acme = register_documents(session, [item])[0].id
    with any_store.db.write() as session:  # the system (a worker): the default tenant
        other = register_documents(session, [item])[0].id
    with tenant_scope("globex"), any_store.db.write() as session:
        assert session.get(Document, acme) is None
        assert session.scalar(select(func.count()).select_from(Document)) == 0
        changed = session.execute(update(Document).values(filename="x"))
        assert changed.rowcount == 0  # type: ignore[attr-defined]
    with any_store.db.read() as session:
        rows = {d.id: d for d in session.scalars(select(Document))}
    assert (rows[acme].tenant_id, rows[other].tenant_id) == ("acme", "default")
    assert {d.filename for d in rows.values()} == {"doc.txt"}


def test_semantic_neighbours_are_the_tenants_own(any_store: Store) -> None:
    vector = vector_bytes([1.0, 0.0])
    ids = {}
    for tenant in ("acme", "globex"):
        with tenant_scope(tenant), any_store.db.write() as session:
            doc = register_documents(session, [put(any_store, tenant.encode())])[0]
            ids[tenant] = doc.id
    with any_store.db.write() as session:
        session.execute(update(Document).values(
            status=DocumentStatus.COMPLETED, embedding=vector, embedding_model="m"))
    for tenant in ("acme", "globex"):
        with tenant_scope(tenant), any_store.db.read() as session:
            found = nearest(session, [1.0, 0.0], "m")
        assert (found.total, [n.document_id for n in found.neighbours]) == (1, [ids[tenant]])


def test_children_belong_to_their_parents_tenant(any_store: Store) -> None:
    with tenant_scope("acme"), any_store.db.write() as session:
        parent = register_documents(session, [put(any_store, b"mail", "a.eml")])[0].id
    with any_store.db.write() as session:  # a worker: no scope
        made = register_children(session, session.get(Document, parent),  # type: ignore[arg-type]
                                 [(put(any_store, b"attachment", "x.txt"), False)], 1000)
        child = session.get(Document, made[0].document_id)
        assert child is not None and child.tenant_id == "acme"


def test_a_worker_reuses_a_twins_result_only_within_its_tenant(any_store: Store) -> None:
    item = put(any_store, b"same bytes")
    ids = {}
    for tenant in ("acme", "globex", "acme2"):
        with tenant_scope(tenant.rstrip("2")), any_store.db.write() as session:
            ids[tenant] = register_documents(session, [item])[0].id
    with any_store.db.write() as session:
        session.execute(update(Document).where(Document.id == ids["acme"])
                        .values(status=DocumentStatus.COMPLETED))
    with any_store.db.read() as session:
        assert find_completed_twin(session, item.blob.sha256, ids["globex"]) is None
        twin = find_completed_twin(session, item.blob.sha256, ids["acme2"])
        assert twin is not None and twin.id == ids["acme"]
