"""Warnings on completed documents: kept with their codes, counted per batch (by the counters,
or again from the progress index alone), filterable by code, on SQLite and PostgreSQL alike,
and migrated onto old rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, select, text

from docflow.store import Document, DocumentStatus, Store, listing
from docflow.store import documents as docs
from docflow.store.batches import batch_progress, counted_batch_progress, create_batch
from docflow.store.db import Database
from docflow.store.migrate import upgrade_database
from tests.conftest import put
from tests.store.conftest import alembic

NO_TEXT = {"code": "no_text", "message": "It holds no text."}
TRUNCATED = {"code": "truncated", "message": "The text was cut."}


def _batch(store: Store, outcomes: list[tuple[str, list[dict[str, str]]]]) -> tuple[str, list[str]]:
    """A batch with one document per (status, warnings)."""
    with store.db.write() as session:
        batch = create_batch(session, source="test")
        rows = docs.register_documents(
            session, [put(store, f"doc {i}".encode()) for i in range(len(outcomes))],
            batch_id=batch.id)
        for row, (status, warnings) in zip(rows, outcomes, strict=True):
            row.status = status
            docs.set_warnings(row, warnings)
        return batch.id, [row.id for row in rows]


def test_batch_progress_counts_completed_documents_with_warnings(any_store: Store) -> None:
    batch_id, _ = _batch(any_store, [
        (DocumentStatus.COMPLETED, [NO_TEXT]),
        (DocumentStatus.COMPLETED, [NO_TEXT]),
        (DocumentStatus.COMPLETED, [TRUNCATED, NO_TEXT]),
        (DocumentStatus.COMPLETED, []),
        (DocumentStatus.FAILED, []),
        (DocumentStatus.QUEUED, []),
    ])
    with any_store.db.read() as session:
        p = batch_progress(session, batch_id)
    assert p is not None
    # The fields that were there before keep their meaning: warnings are still completed.
    assert (p.total, p.completed, p.failed, p.queued, p.processing) == (6, 4, 1, 1, 0)
    assert p.with_warnings == 3
    assert p.warnings == {"no_text": 3, "truncated": 1}


def test_codes_are_stored_sorted_and_none_is_null(store: Store) -> None:
    _, (both, none) = _batch(store, [(DocumentStatus.COMPLETED, [TRUNCATED, NO_TEXT]),
                                     (DocumentStatus.COMPLETED, [])])
    with store.db.read() as session:
        assert session.get(Document, both).warning_codes == "no_text,truncated"
        assert session.get(Document, both).warnings == [TRUNCATED, NO_TEXT]
        row = session.get(Document, none)
        assert (row.warnings, row.warning_codes) == (None, None)


def test_the_warning_filter_matches_whole_codes(any_store: Store) -> None:
    lookalike = {"code": "no_text_layer", "message": "A code that merely starts alike."}
    batch_id, (photo, long, both, _plain, similar) = _batch(any_store, [
        (DocumentStatus.COMPLETED, [NO_TEXT]),
        (DocumentStatus.COMPLETED, [TRUNCATED]),
        (DocumentStatus.COMPLETED, [NO_TEXT, TRUNCATED]),
        (DocumentStatus.COMPLETED, []),
        (DocumentStatus.COMPLETED, [lookalike]),
    ])

    def listed(code: str) -> set[str]:
        with any_store.db.read() as session:
            flt = listing.DocumentFilter(batch_id=batch_id, warning=code)
            rows = listing.list_documents(session, flt, 50).rows
            assert listing.count_documents(session, flt) == len(rows)
        return {row.id for row in rows}

    assert listed("no_text") == {photo, both}
    assert listed("truncated") == {long, both}
    assert listed("any") == {photo, long, both, similar}
    assert listed("no_such_code") == set()


def _statements(store: Store, read: Any) -> list[tuple[str, Any]]:
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(store.db.engine, "before_cursor_execute", capture)
    try:
        with store.db.read() as session:
            read(session)
    finally:
        event.remove(store.db.engine, "before_cursor_execute", capture)
    return statements


def test_batch_progress_reads_counters_and_no_document(any_store: Store) -> None:
    batch_id, _ = _batch(any_store, [(DocumentStatus.COMPLETED, [NO_TEXT])])
    statements = _statements(any_store, lambda session: batch_progress(session, batch_id))
    assert not [s for s, _ in statements if "documents" in s.replace("document_counts", "")]
    query, params = next((s, p) for s, p in statements if "document_counts" in s)
    with any_store.db.engine.connect() as conn:
        if any_store.db.is_sqlite:
            plan = " ".join(str(row) for row in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {query}", params))
            assert "USING INDEX sqlite_autoindex_document_counts_1 (batch_id=?)" in plan, plan
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(str(row) for row in conn.exec_driver_sql(f"EXPLAIN {query}", params))
            assert "document_counts_pkey" in plan, plan


def test_counting_a_batch_again_reads_only_the_progress_index(any_store: Store) -> None:
    batch_id, _ = _batch(any_store, [(DocumentStatus.COMPLETED, [NO_TEXT])])
    statements = _statements(any_store,
                             lambda session: counted_batch_progress(session, batch_id))
    query, params = next((s, p) for s, p in statements if "count(" in s)
    with any_store.db.engine.connect() as conn:
        if any_store.db.is_sqlite:
            plan = " ".join(str(row) for row in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {query}", params))
            assert "COVERING INDEX ix_documents_batch_status_warnings" in plan, plan
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(str(row) for row in conn.exec_driver_sql(f"EXPLAIN {query}", params))
            assert "Index Only Scan using ix_documents_batch_status_warnings" in plan, plan


def test_migration_0011_adds_the_columns_and_widens_the_progress_index(
        database_url: str) -> None:
    db = Database(database_url)
    try:
        alembic(db, "upgrade", "0010_sha256_status_index")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO documents (id, task_id, filename, sha256, size, status, attempts, "
                "indexed, needs_review, created_at) VALUES ('old', 't-old', 'photo.jpg', "
                "'ab', 1, 'completed', 1, false, false, CURRENT_TIMESTAMP)"))
        alembic(db, "upgrade", "0011_warnings")
        indexes = {ix["name"]: ix["column_names"]
                   for ix in inspect(db.engine).get_indexes("documents")}
        assert indexes["ix_documents_batch_status_warnings"] == [
            "batch_id", "status", "warning_codes"]
        assert "ix_documents_batch_status" not in indexes  # its columns lead the new one
        with db.read() as session:
            old = session.execute(select(Document.warnings, Document.warning_codes)
                                  .where(Document.id == "old")).one()
        assert tuple(old) == (None, None)
        alembic(db, "downgrade", "0010_sha256_status_index")
        inspector = inspect(db.engine)
        assert "warnings" not in {c["name"] for c in inspector.get_columns("documents")}
        assert "ix_documents_batch_status" in {ix["name"] for ix in
                                               inspector.get_indexes("documents")}
        upgrade_database(db)
    finally:
        db.dispose()
