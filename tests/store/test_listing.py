"""The store's listing: pages resume from a key, on SQLite and PostgreSQL, and migration 0017
brings the indexes they read (and takes them away again)."""

from __future__ import annotations

from sqlalchemy import inspect

from docflow.store import Store, listing
from docflow.store import documents as docs
from docflow.store.db import Database
from docflow.store.migrate import upgrade_database
from tests.conftest import put
from tests.store.conftest import alembic


def test_walking_a_listing_reads_each_document_once_across_pages(store: Store) -> None:
    with store.db.write() as session:
        # One registration: every document has the same created_at, the id orders them.
        made = docs.register_documents(session, [put(store, f"doc {i}".encode(), f"d{i}.txt")
                                                 for i in range(11)])
        ids = sorted(d.id for d in made)
    pages = list(listing.walk_documents(store.db, listing.DocumentFilter(), page_size=3))
    assert [len(p) for p in pages] == [3, 3, 3, 2]
    assert [d.id for p in pages for d in p] == ids
    newest = listing.walk_documents(store.db, listing.DocumentFilter(), page_size=4,
                                    order=listing.DocumentOrder.NEWEST)
    assert [d.id for p in newest for d in p] == ids[::-1]
    with store.db.read() as session:
        page = listing.list_documents(session, listing.DocumentFilter(), 3, before=(
            made[0].created_at, ids[5]))
    assert [d.id for d in page.rows] == ids[2:5] and page.more_before and page.more_after


def test_migration_0017_adds_the_listing_indexes_and_gives_back_the_old_ones(
        database_url: str) -> None:
    db = Database(database_url)
    try:
        upgrade_database(db)
        names = {ix["name"] for ix in inspect(db.engine).get_indexes("documents")}
        assert {"ix_documents_tenant_status_created", "ix_documents_tenant_warned_created",
                "ix_documents_batch_status_created", "ix_documents_tenant_path"} <= names
        assert "ix_documents_source_path" not in names
        assert "ix_batches_tenant_created" in {
            ix["name"] for ix in inspect(db.engine).get_indexes("batches")}
        alembic(db, "downgrade", "0016_tenant_types")
        names = {ix["name"] for ix in inspect(db.engine).get_indexes("documents")}
        assert {"ix_documents_source_path", "ix_documents_doc_type", "ix_documents_parent_id",
                "ix_documents_needs_review"} <= names
        assert not any(n.endswith("_created") and "finished" not in n and n !=
                       "ix_documents_tenant_created" for n in names), names
        upgrade_database(db)
    finally:
        db.dispose()


def test_migration_0020_makes_the_review_warned_and_path_indexes_cover_and_gives_them_back(
        database_url: str) -> None:
    def columns(db: Database) -> dict[str, list[str]]:
        return {ix["name"]: ix["column_names"]
                for ix in inspect(db.engine).get_indexes("documents")}

    db = Database(database_url)
    try:
        upgrade_database(db)
        found = columns(db)
        assert found["ix_documents_tenant_review_created"][-1] == "status"
        assert found["ix_documents_tenant_warned_created"][-1] == "warning_codes"
        assert found["ix_documents_tenant_path"] == ["tenant_id", "source_path", "id",
                                                     "created_at"]
        alembic(db, "downgrade", "0019_status_finished")
        found = columns(db)
        assert found["ix_documents_tenant_review_created"][-1] == "id"
        assert found["ix_documents_tenant_warned_created"][-1] == "id"
        assert found["ix_documents_tenant_path"] == ["tenant_id", "source_path", "id"]
        upgrade_database(db)
    finally:
        db.dispose()


def test_migration_0021_adds_the_failed_documents_code_index_and_takes_it_back(
        database_url: str) -> None:
    def names(db: Database) -> set[str]:
        return {ix["name"] for ix in inspect(db.engine).get_indexes("documents")}

    db = Database(database_url)
    try:
        upgrade_database(db)
        assert "ix_documents_failed_code" in names(db)
        alembic(db, "downgrade", "0020_covering_lists")
        assert "ix_documents_failed_code" not in names(db)
        upgrade_database(db)
        assert "ix_documents_failed_code" in names(db)
    finally:
        db.dispose()
