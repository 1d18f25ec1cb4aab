"""The hot lookups stay on the right index at any size: the plan each database chooses, with
statistics gathered on a realistic table (most documents completed), names the index that
makes the lookup cost the same at 500 documents as at 500,000."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from docflow.store import Document, Store
from docflow.store import documents as docs
from docflow.store.batches import counted_batch_progress
from docflow.store.models import Batch, DocumentStatus, Extraction, utcnow
from docflow.store.scope import tenant_scope
from docflow.worker.indexer import count_pending, pending_query

ROWS = 5_000  # enough for the planners to tell a selective index from a wide one
TENANTS = ("default", "acme", "globex", "initech")


def _as(tenant: str, lookup: Callable[[], Any]) -> Any:
    """A lookup made by a request of `tenant`: the store adds the tenant's filter."""
    with tenant_scope(tenant):
        return lookup()


def _fill(store: Store, analyze: bool) -> list[dict[str, Any]]:
    """ROWS documents in ten batches, 95% completed (a long-running install); with statistics
    gathered, or none (SQLite gathers none unless told to)."""
    batches = [uuid.uuid4().hex for _ in range(10)]
    rows = [{"id": uuid.uuid4().hex, "task_id": str(uuid.uuid4()), "batch_id": batches[i % 10],
             "filename": f"f{i}.txt", "sha256": f"{i:064x}", "size": 10,
             "status": DocumentStatus.COMPLETED if i % 20 else DocumentStatus.QUEUED,
             # All but a few completed ones are in the search index already.
             "indexed": i % 20 != 0 and i % 97 != 0,
             "idempotency_key": f"key-{i}", "tenant_id": TENANTS[i % 10 % len(TENANTS)]}
            for i in range(ROWS)]
    with store.db.write() as session:
        session.execute(insert(Batch), [{"id": b, "source": "batch-upload",
                                         "tenant_id": TENANTS[i % len(TENANTS)]}
                                        for i, b in enumerate(batches)])
        session.execute(insert(Document), rows)
        session.execute(insert(Extraction), [
            {"sha256": r["sha256"], "format": "text", "mime_type": "text/plain", "text": "x",
             "pages": [], "page_count": 1} for r in rows])
    if analyze:
        with store.db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    return rows


def _plan_of(store: Store, call: Callable[[Session], Any], marker: str) -> str:
    """The plan the database chooses for the statement `call` runs that contains `marker`."""
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(store.db.engine, "before_cursor_execute", capture)
    try:
        with store.db.read() as session:
            call(session)
    finally:
        event.remove(store.db.engine, "before_cursor_execute", capture)
    statement, params = next((s, p) for s, p in statements if marker in s)
    with store.db.engine.connect() as conn:
        explain = "EXPLAIN QUERY PLAN" if store.db.is_sqlite else "EXPLAIN"
        return " ".join(str(row) for row in conn.exec_driver_sql(f"{explain} {statement}",
                                                                  params).all())




@pytest.mark.parametrize("analyze", [True, False], ids=["statistics", "no-statistics"])
@pytest.mark.parametrize("lookup, marker, index", [
    (lambda s, r: docs.find_completed_twin(s, r[500]["sha256"], r[501]["id"]),
     "documents.sha256 =", "ix_documents_sha256"),
    # Every claim asks whether the same bytes are being processed for another document now.
    (lambda s, r: docs._processing_twin(s, Document(id=r[502]["id"], sha256=r[502]["sha256"]),
                                        utcnow()),
     "documents.sha256 =", "ix_documents_sha256"),
    (lambda s, r: docs._completed_by_sha(s, {r[7]["sha256"], r[8]["sha256"]}),
     "documents.sha256 IN", "ix_documents_sha256"),
    (lambda s, r: docs.find_by_idempotency_keys(s, ["key-3", "key-4"]),
     "idempotency_key IN", "ix_documents_idempotency_key"),
    (lambda s, r: docs._having_children(s, [r[9]["id"]]),
     "parent_id IN", "ix_documents_parent_id"),
    (lambda s, r: s.execute(pending_query(1000)).all(),
     "extractions.text", "ix_documents_status_indexed"),
    (lambda s, r: count_pending(s, 1000), "count(*)", "ix_documents_status_indexed"),
    # A tenant's listing and its batch's progress: the tenant's filter stays on an index.
    (lambda s, r: _as("acme", lambda: docs.list_documents(s, docs.DocumentFilter(), 50, 0)),
     "ORDER BY documents.created_at", "ix_documents_tenant_created"),
    (lambda s, r: _as("acme", lambda: counted_batch_progress(s, r[1]["batch_id"])),
     "GROUP BY", "ix_documents_batch_status_warnings"),
    (lambda s, r: _as("acme", lambda: docs.find_by_idempotency_keys(s, ["key-1", "key-5"])),
     "idempotency_key IN", "ix_documents_idempotency_key"),
])
def test_a_hot_lookup_reads_its_own_index_on_a_large_table(
        any_store: Store, lookup: Callable[[Session, list[dict[str, Any]]], Any], marker: str,
        index: str, analyze: bool) -> None:
    if not analyze and not any_store.db.is_sqlite:
        pytest.skip("PostgreSQL's autovacuum gathers statistics by itself; SQLite never does")
    rows = _fill(any_store, analyze)
    plan = _plan_of(any_store, lambda session: lookup(session, rows), marker)
    assert index in plan, plan
