"""PostgreSQL keyword search ordered by upload date: a common word walks the tenant's documents
newest first and stops at the page, a rare one sorts its few matches. Both by the plan the
database chooses with statistics gathered, and by the answer (the exact newest matches)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert

from docflow.config import Settings
from docflow.search import SearchDocument, SearchFilters, SearchSort
from docflow.search.postgres_index import PostgresIndex
from docflow.store import Document, DocumentStatus, open_store
from docflow.store.scope import tenant_scope
from tests.conftest import empty_postgres

pytestmark = pytest.mark.postgres

ROWS = 6_000
TENANTS = ("default", "acme")
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def filled(postgres_url: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[PostgresIndex, list[str]]]:
    """ROWS completed documents, one a minute, every third holding "common", two "rare";
    indexed and analyzed. Ids in upload order."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), database_url=postgres_url,
                        search="postgres")
    empty_postgres(postgres_url)
    store = open_store(settings, migrate=True)
    ids = [uuid.uuid4().hex for _ in range(ROWS)]
    words = ["invoice", "letter", "receipt", "contract", "notice"]

    def text(i: int) -> str:
        return " ".join([words[i % 5], words[i % 7 % 5], "common" if i % 3 == 0 else "plain",
                         "rare" if i in (10, 4000) else "", f"ref{i}"])

    with store.db.write() as session:
        session.execute(insert(Document), [
            {"id": ids[i], "filename": f"f{i}.txt", "source_path": f"folder{i % 9}/f{i}.txt",
             "sha256": f"{i:064x}", "size": 10, "status": DocumentStatus.COMPLETED,
             "indexed": True, "tenant_id": TENANTS[i % 4 == 1],
             "created_at": START + timedelta(minutes=i), "finished_at": START}
            for i in range(ROWS)])
    index = PostgresIndex(settings.sqlalchemy_url, writer=True)
    index.index([SearchDocument(id=ids[i], filename=f"f{i}.txt", text=text(i), doc_type="letter",
                                batch_id=f"batch{i % 2}", tenant=TENANTS[i % 4 == 1])
                 for i in range(ROWS)])
    with store.db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    store.db.dispose()
    yield index, ids
    index.close()


def _plan(index: PostgresIndex, query: str, **kwargs: Any) -> str:
    """The plan PostgreSQL chooses for the search's statement, as the search runs it."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    engine = index._eng()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        index.search(query, **kwargs)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, params = seen[-1]
    with engine.connect() as conn:
        return "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {statement}", params))


def _newest(ids: list[str], matching: range | list[int], tenant: str, n: int,
            oldest: bool = False) -> list[str]:
    mine = [i for i in matching if TENANTS[i % 4 == 1] == tenant]
    return [ids[i] for i in (mine if oldest else mine[::-1])[:n]]


@pytest.mark.parametrize("sort", [SearchSort.DATE, SearchSort.DATE_ASC])
def test_a_common_word_walks_the_documents_in_date_order(filled, sort: SearchSort) -> None:
    index, ids = filled
    with tenant_scope("default"):
        plan = _plan(index, "common", sort=sort, limit=20)
        found = index.search("common", sort=sort, limit=20)
    page = plan.split("CTE found")[0]  # the page's part; the count reads the word's index
    assert "ix_documents_tenant_created" in page, plan
    assert "Sort" not in page, plan
    assert [h.id for h in found.hits] == _newest(ids, range(0, ROWS, 3), "default", 20,
                                                 oldest=sort is SearchSort.DATE_ASC)
    assert found.total_is_lower_bound and found.total == 1_000


def test_a_rare_word_sorts_its_few_matches(filled) -> None:
    index, ids = filled
    with tenant_scope("default"):
        plan = _plan(index, "rare", sort=SearchSort.DATE)
        found = index.search("rare", sort=SearchSort.DATE)
    page = plan.split("CTE found")[0]  # reads the matches (by the word, not every document)
    assert "ix_documents_tenant_created" not in page and "Sort Key" in page, plan
    assert [h.id for h in found.hits] == [ids[4000], ids[10]]
    assert (found.total, found.total_is_lower_bound) == (2, False)


def test_a_listing_of_everything_counts_up_to_the_cap_and_pages_by_the_index(filled) -> None:
    """`*` ordered by date: the page from the documents' date index, the count and the counts
    per type stop at the cap instead of reading all ROWS rows per page."""
    index, ids = filled
    with tenant_scope("acme"):
        plan = _plan(index, "*", sort=SearchSort.DATE, limit=5, facets=True)
        listed = index.search("*", sort=SearchSort.DATE, limit=5, facets=True)
        folder = index.search("*", sort=SearchSort.DATE_ASC, limit=3,
                              filters=SearchFilters(path_prefix="folder1/"))
    assert "ix_documents_tenant_created" in plan and "WindowAgg" not in plan, plan
    assert [h.id for h in listed.hits] == _newest(ids, range(ROWS), "acme", 5)
    assert (listed.total, listed.total_is_lower_bound) == (1_000, True)
    assert listed.doc_types == {"letter": 1_000}
    in_folder = [i for i in range(ROWS) if i % 9 == 1]
    assert [h.id for h in folder.hits] == _newest(ids, in_folder, "acme", 3, oldest=True)
    acme_in_folder = sum(1 for i in in_folder if TENANTS[i % 4 == 1] == "acme")
    assert (folder.total, folder.total_is_lower_bound) == (acme_in_folder, False)


def test_a_batch_is_listed_with_its_exact_count(filled) -> None:
    """A batch is bounded (max_batch_files): its listing counts every document, as clients
    that wait for a batch to be searchable count it."""
    index, _ = filled
    with tenant_scope("default"):
        batch = index.search("*", batch_id="batch0", limit=1, facets=True)
    expected = sum(1 for i in range(0, ROWS, 2) if TENANTS[i % 4 == 1] == "default")
    assert expected > 1_000
    assert (batch.total, batch.total_is_lower_bound) == (expected, False)
    assert batch.doc_types == {"letter": expected}
