"""The hot lookups stay on the right index at any size: the plan each database chooses, with
statistics gathered on a realistic table (most documents completed), names the index that
makes the lookup cost the same at 500 documents as at 500,000."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from docflow.store import Document, Store, listing
from docflow.store import documents as docs
from docflow.store.activity import (
    completed_since,
    failed_by_code,
    failures_of_batch,
    failures_since,
)
from docflow.store.batches import BATCH_ORDER, counted_batch_progress, list_batches
from docflow.store.embeddings import document_heads
from docflow.store.events import Cursor, finished_between
from docflow.store.models import Batch, DocumentStatus, Extraction, utcnow
from docflow.store.scope import tenant_scope
from docflow.worker.indexer import count_pending, pending_query
from docflow.worker.training import count_labels

ROWS = 5_000  # enough for the planners to tell a selective index from a wide one
TENANTS = ("default", "acme", "globex", "initech")
DOC_TYPES = ("invoice", "receipt", "contract", "letter", "other")
BATCH, PARENT = "the batch of row 1", "row 50, a parent"  # placeholders, see _named


def _as(tenant: str, lookup: Callable[[], Any]) -> Any:
    """A lookup made by a request of `tenant`: the store adds the tenant's filter."""
    with tenant_scope(tenant):
        return lookup()


def _fill(store: Store, analyze: bool) -> list[dict[str, Any]]:
    """ROWS documents in ten batches, 95% completed (a long-running install); with statistics
    gathered, or none (SQLite gathers none unless told to)."""
    batches = [uuid.uuid4().hex for _ in range(10)]
    ids = [uuid.uuid4().hex for _ in range(ROWS)]
    start = utcnow() - timedelta(days=30)
    rows = [{"id": ids[i], "task_id": str(uuid.uuid4()), "batch_id": batches[i % 10],
             "filename": f"f{i}.txt", "sha256": f"{i:064x}", "size": 10,
             "status": (DocumentStatus.COMPLETED if i % 20 else DocumentStatus.QUEUED)
             if i % 50 != 7 else DocumentStatus.FAILED,
             # All but a few completed ones are in the search index already.
             "indexed": i % 20 != 0 and i % 97 != 0,
             "idempotency_key": f"key-{i}", "tenant_id": TENANTS[i % 10 % len(TENANTS)],
             # A few a person labelled (their types teach the classifier).
             "labeled_type": "invoice" if i % 250 == 0 else None,
             "labeled_at": utcnow() if i % 250 == 0 else None,
             # What the listing filters on, spread as a real collection spreads it: a few types,
             # one in ten to review, one in fifteen with a warning, fifty folders, a few children.
             "created_at": start + timedelta(seconds=i // 3),
             "finished_at": start + timedelta(seconds=i // 3 + 60)
             if i % 20 and i % 50 != 7 or i % 50 == 7 else None,
             "doc_type": DOC_TYPES[i % len(DOC_TYPES)], "needs_review": i % 10 == 3,
             "warning_codes": "no_text" if i % 15 == 4 else None,
             "source_path": f"folder{i % 50}/f{i}.txt",
             "parent_id": ids[i - 1] if i % 100 == 51 else None}
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


def _plan_of(store: Store, call: Callable[[Session], Any], marker: str,
             settings: tuple[str, ...] = ()) -> str:
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
        for setting in settings:
            conn.exec_driver_sql(setting)
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
     "parent_id IN", "ix_documents_parent_created"),
    (lambda s, r: s.execute(pending_query(1000)).all(),
     "extractions.text", "ix_documents_status_indexed"),
    (lambda s, r: count_pending(s, 1000), "count(*)", "ix_documents_status_indexed"),
    # A tenant's listing and its batch's progress: the tenant's filter stays on an index.
    (lambda s, r: _as("acme", lambda: listing.list_documents(s, listing.DocumentFilter(), 50)),
     "ORDER BY documents.created_at", "ix_documents_tenant_created"),
    (lambda s, r: _as("acme", lambda: counted_batch_progress(s, r[1]["batch_id"])),
     "GROUP BY", "ix_documents_batch_status_warnings"),
    (lambda s, r: _as("acme", lambda: docs.find_by_idempotency_keys(s, ["key-1", "key-5"])),
     "idempotency_key IN", "ix_documents_idempotency_key"),
    # The housekeeper counts each tenant's new labels every round.
    (lambda s, r: count_labels(s, "acme", None), "labeled_at", "ix_documents_tenant_labeled"),
    (lambda s, r: count_labels(s, "acme", utcnow()), "labeled_at",
     "ix_documents_tenant_labeled"),
])
def test_a_hot_lookup_reads_its_own_index_on_a_large_table(
        any_store: Store, lookup: Callable[[Session, list[dict[str, Any]]], Any], marker: str,
        index: str, analyze: bool) -> None:
    if not analyze and not any_store.db.is_sqlite:
        pytest.skip("PostgreSQL's autovacuum gathers statistics by itself; SQLite never does")
    rows = _fill(any_store, analyze)
    plan = _plan_of(any_store, lambda session: lookup(session, rows), marker)
    assert index in plan, plan


def _sqlite_reads_a_range(plan: str, index: str) -> bool:
    """SQLite seeks into `index` (SEARCH ..., not a SCAN of all of it) and sorts nothing."""
    return (re.search(rf"SEARCH documents USING (COVERING )?INDEX {index} \(", plan) is not None
            and "TEMP B-TREE" not in plan and "SCAN documents" not in plan)


def _postgres_reads_an_index(plan: str, index: str) -> bool:
    """PostgreSQL scans no table. Which index it reads a small range from is its choice by cost
    (at 5,000 rows it may fetch the few rows of a batch through another index and sort them);
    that the right one can serve the page is checked without sorting, below."""
    return "Seq Scan" not in plan


def _postgres_walks_in_order(plan: str, index: str) -> bool:
    """Told not to sort, PostgreSQL starts reading `index` at the cursor (the row comparison is
    an index condition) and walks it in the page's order."""
    return (re.search(rf"Index (Only )?Scan (Backward )?using {index} on documents", plan)
            is not None and "ROW(" in plan.split("Index Cond", 1)[-1]
            and "Seq Scan" not in plan and "Sort" not in plan)


F = listing.DocumentFilter
Order = listing.DocumentOrder
# Each filter, and the pairs the web app and the CLI ask for, in each order they page by; the
# page starts after a key half-way through, as page 50 of 100 would.
KEYSET_CASES = [
    (F(), Order.OLDEST, "ix_documents_tenant_created"),
    (F(), Order.NEWEST, "ix_documents_tenant_created"),
    (F(), Order.PATH, "ix_documents_tenant_path"),
    # Nearly every document is completed: reading the tenant's range and skipping the other 5%
    # is as good, and PostgreSQL may prefer it.
    (F(status="completed"), Order.OLDEST, "ix_documents_tenant_(status_created|created)"),
    (F(status="failed"), Order.NEWEST, "ix_documents_tenant_status_created"),
    (F(doc_type="invoice"), Order.OLDEST, "ix_documents_tenant_type_created"),
    (F(doc_type="letter"), Order.NEWEST, "ix_documents_tenant_type_created"),
    (F(needs_review=True), Order.OLDEST, "ix_documents_tenant_review_created"),
    (F(needs_review=True), Order.NEWEST, "ix_documents_tenant_review_created"),
    (F(warning="no_text"), Order.OLDEST, "ix_documents_tenant_warned_created"),
    (F(warning="any"), Order.NEWEST, "ix_documents_tenant_warned_created"),
    (F(batch_id=BATCH), Order.OLDEST, "ix_documents_batch_created"),
    (F(batch_id=BATCH), Order.NEWEST, "ix_documents_batch_created"),
    (F(batch_id=BATCH, status="failed"), Order.OLDEST, "ix_documents_batch_status_created"),
    (F(batch_id=BATCH, status="completed"), Order.NEWEST, "ix_documents_batch_status_created"),
    (F(parent_id=PARENT), Order.OLDEST, "ix_documents_parent_created"),
    (F(path_prefix="folder1/"), Order.PATH, "ix_documents_tenant_path"),
    # The review queue: documents to review among the completed ones.
    (F(needs_review=True, status="completed"), Order.OLDEST,
     "ix_documents_tenant_(review|status)_created"),
]


def _named(rows: list[dict[str, Any]], flt: listing.DocumentFilter) -> listing.DocumentFilter:
    """The filter with the placeholders for a batch and a parent filled in from the rows."""
    return replace(flt, batch_id=rows[1]["batch_id"] if flt.batch_id else None,
                   parent_id=rows[50]["id"] if flt.parent_id else None)


@pytest.mark.parametrize("analyze", [True, False], ids=["statistics", "no-statistics"])
@pytest.mark.parametrize("flt, order, index", KEYSET_CASES,
                         ids=[f"{c[1].value}-{','.join(c[0].as_dict()) or 'all'}"
                              for c in KEYSET_CASES])
def test_a_page_after_a_cursor_reads_one_index_range_in_its_order(
        any_store: Store, flt: listing.DocumentFilter, order: listing.DocumentOrder, index: str,
        analyze: bool) -> None:
    if not analyze and not any_store.db.is_sqlite:
        pytest.skip("PostgreSQL's autovacuum gathers statistics by itself; SQLite never does")
    rows = _fill(any_store, analyze)
    with any_store.db.read() as session:
        key = listing.document_key(order, session.get(Document, rows[ROWS // 2]["id"]))
    flt = _named(rows, flt)
    plan = _plan_of(any_store, lambda s: _as("acme", lambda: listing.list_documents(
        s, flt, 50, order=order, after=key)), "ORDER BY")
    reads = _sqlite_reads_a_range if any_store.db.is_sqlite else _postgres_reads_an_index
    assert any(reads(plan, name) for name in _names(index)), plan
    backwards = _plan_of(any_store, lambda s: _as("acme", lambda: listing.list_documents(
        s, flt, 50, order=order, before=key)), "ORDER BY")
    assert any(reads(backwards, name) for name in _names(index)), backwards
    if not any_store.db.is_sqlite:
        ordered = _plan_of(any_store, lambda s: _as("acme", lambda: listing.list_documents(
            s, flt, 50, order=order, after=key)), "ORDER BY",
            ("SET enable_sort = off", "SET enable_bitmapscan = off"))
        assert any(_postgres_walks_in_order(ordered, name) for name in _names(index)), ordered


def _names(pattern: str) -> list[str]:
    """ix_a_(b|c)_d -> [ix_a_b_d, ix_a_c_d]."""
    found = re.search(r"\((.*)\)", pattern)
    if found is None:
        return [pattern]
    return [pattern[:found.start()] + alt + pattern[found.end():]
            for alt in found.group(1).split("|")]


@pytest.mark.parametrize("analyze", [True, False], ids=["statistics", "no-statistics"])
def test_a_page_of_batches_after_a_cursor_reads_its_index(any_store: Store,
                                                          analyze: bool) -> None:
    if not analyze and not any_store.db.is_sqlite:
        pytest.skip("PostgreSQL's autovacuum gathers statistics by itself; SQLite never does")
    with any_store.db.write() as session:
        start = utcnow() - timedelta(days=1)
        session.execute(insert(Batch), [
            {"id": uuid.uuid4().hex, "source": "batch-upload", "tenant_id": TENANTS[i % 4],
             "created_at": start + timedelta(seconds=i)} for i in range(ROWS)])
    if analyze:
        with any_store.db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    with any_store.db.read() as session:
        key = BATCH_ORDER.key_of(session.scalars(select(Batch).limit(1)).one())
    plan = _plan_of(any_store, lambda s: _as("acme", lambda: list_batches(s, 20, after=key)),
                    "ORDER BY")
    if any_store.db.is_sqlite:
        assert re.search(r"SEARCH batches USING (COVERING )?INDEX ix_batches_tenant_created \(",
                         plan) and "TEMP B-TREE" not in plan, plan
    else:
        assert "ix_batches_tenant_created" in plan and "ROW(" in plan \
            and "Seq Scan" not in plan, plan


LATELY = timedelta(days=30) - timedelta(seconds=ROWS // 6)  # ago: half-way through the rows


@pytest.mark.parametrize("analyze", [True, False], ids=["statistics", "no-statistics"])
@pytest.mark.parametrize("lookup", [
    lambda s: completed_since(s, utcnow() - LATELY),  # the overview's throughput
    lambda s: failures_since(s, utcnow() - LATELY),  # its failures of the last hour
    # The live events' poll: what finished since its cursor, for all documents or a batch.
    lambda s: finished_between(s, Cursor(utcnow() - LATELY, "0" * 32), utcnow(), None, 500),
], ids=["throughput", "failures", "events"])
def test_what_finished_lately_is_read_from_its_window_not_from_every_completed_document(
        any_store: Store, lookup: Callable[[Session], Any], analyze: bool) -> None:
    if not analyze and not any_store.db.is_sqlite:
        pytest.skip("PostgreSQL's autovacuum gathers statistics by itself; SQLite never does")
    _fill(any_store, analyze)
    plan = _plan_of(any_store, lambda s: _as("acme", lambda: lookup(s)), "finished_at >")
    if any_store.db.is_sqlite:
        assert re.search(r"SEARCH documents USING (COVERING )?INDEX "
                         r"ix_documents_(tenant_status_finished \(tenant_id=\? AND status=\? "
                         r"AND finished_at>\?|finished \(finished_at>\?)", plan), plan
        assert "SCAN documents" not in plan, plan
    else:
        assert "Seq Scan" not in plan, plan


@pytest.mark.parametrize("lookup, marker, index", [
    (lambda s, r: failures_of_batch(s, r[1]["batch_id"]), "GROUP BY",
     "ix_documents_batch_status_created"),
    (lambda s, r: listing.count_documents(s, F(needs_review=True, status="completed")),
     "count(*)", "ix_documents_tenant_review_created"),
], ids=["batch-failures", "review-count"])
def test_what_does_not_bound_finished_at_keeps_its_own_index_without_statistics(
        store: Store, lookup: Callable[[Session, list[dict[str, Any]]], Any], marker: str,
        index: str) -> None:
    """SQLite without statistics breaks a tie between two-column equalities by index order:
    the (tenant, status, finished_at) index, partial, is not even a candidate here."""
    if not store.db.is_sqlite:
        pytest.skip("PostgreSQL's autovacuum gathers statistics by itself; SQLite never does")
    rows = _fill(store, analyze=False)
    plan = _plan_of(store, lambda s: _as("acme", lambda: lookup(s, rows)), marker)
    assert index in plan, plan


@pytest.mark.parametrize("analyze", [True, False], ids=["statistics", "no-statistics"])
@pytest.mark.parametrize("lookup, marker", [
    (lambda s, r: docs.source_paths(s, [r[1]["id"], r[11]["id"]]), "source_path"),
    (lambda s, r: document_heads(s, [r[1]["id"], r[11]["id"]], 400), "substr"),
], ids=["search-hit-paths", "semantic-hit-heads"])
def test_a_page_of_search_hits_is_read_by_id_not_by_its_tenant(
        any_store: Store, lookup: Callable[[Session, list[dict[str, Any]]], Any], marker: str,
        analyze: bool) -> None:
    """A search's page of hits, in a tenant's request, is `limit` key lookups: without
    statistics SQLite read the tenant's whole path index instead (40 ms at 100,000 documents,
    300 ms at 500,000), and another tenant's document stays out."""
    if not analyze and not any_store.db.is_sqlite:
        pytest.skip("PostgreSQL's autovacuum gathers statistics by itself; SQLite never does")
    rows = _fill(any_store, analyze)
    plan = _plan_of(any_store, lambda s: _as("acme", lambda: lookup(s, rows)), marker)
    key = "sqlite_autoindex_documents_1" if any_store.db.is_sqlite else "documents_pkey"
    assert key in plan and "ix_documents_tenant" not in plan, plan
    with any_store.db.read() as session:  # rows 1 and 11 are acme's, row 2 globex's
        found = _as("acme", lambda: lookup(session, rows))
        assert set(found) == {rows[1]["id"], rows[11]["id"]}
        assert not _as("acme", lambda: docs.source_paths(session, [rows[2]["id"]]))
        assert not _as("acme", lambda: document_heads(session, [rows[2]["id"]], 10))


def _vacuum(store: Store) -> None:
    """What autovacuum does to a table after inserts (PostgreSQL 13+): with its pages marked
    all-visible, a plan may read an index alone. SQLite reads a covering index alone anyway."""
    if not store.db.is_sqlite:
        with store.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE documents")


@pytest.mark.parametrize("analyze", [True, False], ids=["statistics", "no-statistics"])
@pytest.mark.parametrize("flt, order, index", [
    (F(path_prefix="folder1/"), Order.OLDEST, "ix_documents_tenant_path"),
    (F(path_prefix="folder1/"), Order.NEWEST, "ix_documents_tenant_path"),
    (F(warning="no_text"), Order.OLDEST, "ix_documents_tenant_warned_created"),
    (F(warning="no_text"), Order.NEWEST, "ix_documents_tenant_warned_created"),
], ids=["folder-oldest", "folder-newest", "no_text-oldest",
        "no_text-newest"])
def test_a_page_of_a_folder_by_date_or_of_a_warning_code_reads_only_its_own_rows(
        any_store: Store, flt: listing.DocumentFilter, order: listing.DocumentOrder, index: str,
        analyze: bool) -> None:
    """A folder's range is in path order, not by date; a code in the warning list is a check no
    planner can estimate. The page's keys are picked from an index that holds them (0020), and
    only the page's rows are read (by id): never every document of the folder or warned."""
    if not analyze and not any_store.db.is_sqlite:
        pytest.skip("PostgreSQL's autovacuum gathers statistics by itself; SQLite never does")
    rows = _fill(any_store, analyze)
    if analyze:
        _vacuum(any_store)
    with any_store.db.read() as session:
        key = listing.document_key(order, session.get(Document, rows[ROWS // 2]["id"]))
    # The first page (a page after a cursor may walk the order's own index from the cursor
    # instead, as it did before: checking the folder on its rows until it has a page).
    plan = _plan_of(any_store, lambda s: _as("acme", lambda: listing.list_documents(
        s, flt, 50, order=order)), "ORDER BY")
    if any_store.db.is_sqlite:
        assert re.search(rf"SEARCH documents USING COVERING INDEX {index} \(", plan), plan
        assert re.search(r"SEARCH documents USING (INDEX sqlite_autoindex_documents_1|"
                         r"PRIMARY KEY) \(id=\?\)", plan), plan
        assert "SCAN documents" not in plan, plan
    else:
        assert "documents_pkey" in plan and "Seq Scan" not in plan, plan
        assert "Bitmap Heap Scan" not in plan, plan
    # The same documents as reading every match and sorting them.
    with tenant_scope("acme"), any_store.db.read() as session:
        page = listing.list_documents(session, flt, 50, order=order, after=key)
        expected = session.scalars(select(Document).where(*listing._conditions(flt, order))
                                   .where(listing.KEYSETS[order].past(key))
                                   .order_by(*listing.KEYSETS[order].order_by()).limit(50))
        assert [d.id for d in page.rows] == [d.id for d in expected]


@pytest.mark.parametrize("analyze", [True, False], ids=["statistics", "no-statistics"])
@pytest.mark.parametrize("lookup, marker, index", [
    # The review queue's count: the status is checked in the index, not in each row.
    (lambda s: _as("acme", lambda: listing.count_documents(
        s, F(needs_review=True, status="completed"))), "count(*)",
     "ix_documents_tenant_review_created"),
    (lambda s: _as("acme", lambda: listing.count_documents(s, F(needs_review=True))),
     "count(*)", "ix_documents_tenant_review_created"),
], ids=["review-count", "review-count-any-status"])
def test_a_count_reads_its_index_alone(any_store: Store, lookup: Callable[[Session], Any],
                                       marker: str, index: str, analyze: bool) -> None:
    if not analyze and not any_store.db.is_sqlite:
        pytest.skip("PostgreSQL's autovacuum gathers statistics by itself; SQLite never does")
    _fill(any_store, analyze)
    if analyze:
        _vacuum(any_store)
    plan = _plan_of(any_store, lookup, marker)
    if any_store.db.is_sqlite:
        assert re.search(rf"(SEARCH|SCAN) documents USING COVERING INDEX {index}\b", plan), plan
    else:
        assert re.search(rf"Index Only Scan using {index}\b", plan), plan


@pytest.mark.parametrize("analyze", [True, False], ids=["statistics", "no-statistics"])
@pytest.mark.parametrize("tenant", [None, "acme"], ids=["every-tenant", "a-tenant"])
def test_failed_documents_by_code_are_counted_from_the_failed_ones_alone(
        any_store: Store, analyze: bool, tenant: str | None) -> None:
    """GET /metrics counts the failed documents by code at each scrape (a tenant's in its
    request): it reads the failed documents' partial index (0021), not every document (0.4 s
    at 500,000 on either database)."""
    if not analyze and not any_store.db.is_sqlite:
        pytest.skip("PostgreSQL's autovacuum gathers statistics by itself; SQLite never does")
    rows = _fill(any_store, analyze)
    failed = [r for r in rows if r["status"] == DocumentStatus.FAILED]
    codes = {r["id"]: "corrupt" if n % 3 else "timeout" for n, r in enumerate(failed)}
    with any_store.db.write() as session:
        for doc_id, code in codes.items():
            session.get(Document, doc_id).error_code = code
    if analyze:
        _vacuum(any_store)

    def count(session: Session) -> dict[str | None, int]:
        return _as(tenant, lambda: failed_by_code(session)) if tenant else failed_by_code(session)

    plan = _plan_of(any_store, count, "GROUP BY")
    if any_store.db.is_sqlite:
        assert re.search(r"(SCAN|SEARCH) documents USING COVERING INDEX "
                         r"ix_documents_failed_code\b", plan), plan
    else:
        assert "ix_documents_failed_code" in plan and "Seq Scan" not in plan, plan
    expected: dict[str | None, int] = {}
    for r in failed:
        if tenant is None or r["tenant_id"] == tenant:
            expected[codes[r["id"]]] = expected.get(codes[r["id"]], 0) + 1
    with any_store.db.read() as session:
        assert count(session) == expected
