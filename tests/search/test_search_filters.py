"""Search filters by folder and upload date, date order and counts per type, told as documents
the workers completed and the indexer indexed, on both backends alike."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy import insert, update

from docflow.config import Settings
from docflow.search import SearchFilters, SearchIndex, SearchMode, SearchSort, modes, open_index
from docflow.search.postgres_index import _JOIN_DOCUMENTS, _search_sql
from docflow.search.query import read_query
from docflow.store import Document, DocumentStatus, Extraction, Store, open_store
from docflow.store.embeddings import vector_bytes
from docflow.store.listing import DocumentFilter, list_documents
from docflow.store.scope import tenant_scope
from docflow.worker.indexer import index_pending
from tests.conftest import empty_postgres


@dataclass(frozen=True)
class Filed:
    path: str
    day: date
    doc_type: str | None = "letter"
    text: str = "a quarterly report"
    tenant: str = "default"


# Folders whose names hold regex and LIKE syntax mean themselves.
FILED = {
    "a": Filed("2019/invoice-1.pdf", date(2019, 3, 1), "invoice"),
    "b": Filed("2019/q1/invoice-2.pdf", date(2019, 3, 2), "invoice"),
    "c": Filed("2019-old/letter.pdf", date(2020, 1, 5)),
    "d": Filed("scans.zip/[a].b+(1)%_/memo.txt", date(2021, 6, 30), "memo"),
    "e": Filed("2021/receipt.txt", date(2021, 7, 1), None),
    "f": Filed("2022/notes.txt", date(2022, 12, 31), "letter", "no match here"),
}


@pytest.fixture(params=["tantivy", pytest.param("postgres", marks=pytest.mark.postgres)])
def indexed(request: pytest.FixtureRequest, settings: Settings) -> Iterator[
        tuple[Store, SearchIndex, dict[str, str]]]:
    """FILED completed and indexed (through the indexer) on one backend; ids by FILED key."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        settings.database_url, settings.search = url, "postgres"
        empty_postgres(url)
    store = open_store(settings, migrate=True)
    index = open_index(settings.search, settings.index_dir, writer=True,
                       database_url=settings.sqlalchemy_url)
    ids = _complete(store, FILED)
    assert index_pending(store, index, 100) == len(FILED)
    yield store, index, ids
    index.close()
    store.db.dispose()


def _complete(store: Store, filed: dict[str, Filed]) -> dict[str, str]:
    ids = {key: uuid.uuid4().hex for key in filed}
    with store.db.write() as session:
        session.execute(insert(Extraction), [
            {"sha256": ids[key] * 2, "format": "text", "mime_type": "text/plain", "pages": [],
             "page_count": 1, "text": f.text} for key, f in filed.items()])
        session.execute(insert(Document), [
            {"id": ids[key], "filename": f.path.rsplit("/", 1)[-1], "source_path": f.path,
             "sha256": ids[key] * 2, "size": 30, "status": DocumentStatus.COMPLETED,
             "doc_type": f.doc_type, "tenant_id": f.tenant,
             "created_at": datetime(f.day.year, f.day.month, f.day.day, 12, tzinfo=UTC),
             "finished_at": datetime.now(UTC)} for key, f in filed.items()])
    return ids


def _keys(ids: dict[str, str], hits: list) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id[h.id] for h in hits]


@pytest.mark.parametrize("prefix", ["2019/", "2019", "2019/q1/", "2019/inv", "\\2019\\q1",
                                    "scans.zip/[a].b+(1)%_/", "scans.zip/[a].b", "/", "2023/"])
def test_a_folder_filter_finds_what_the_document_listing_finds(indexed, prefix: str) -> None:
    store, index, ids = indexed
    with store.db.read() as session:
        listed = list_documents(session, DocumentFilter(path_prefix=prefix), 100).rows
    found = index.search("", filters=SearchFilters(path_prefix=prefix), limit=100)
    assert sorted(_keys(ids, found.hits)) == sorted(_keys(ids, listed))
    assert found.total == len(listed)


def test_a_folder_is_that_folder_and_below_never_a_longer_name(indexed) -> None:
    _, index, ids = indexed
    folder = index.search("report", filters=SearchFilters(path_prefix="2019/"))
    assert sorted(_keys(ids, folder.hits)) == ["a", "b"]
    named = index.search("report", filters=SearchFilters(path_prefix="2019"))
    assert sorted(_keys(ids, named.hits)) == ["a", "b", "c"]


def test_dates_bound_the_upload_day_inclusively(indexed) -> None:
    _, index, ids = indexed
    both = SearchFilters.uploaded_between(date(2019, 3, 2), date(2021, 6, 30))
    assert sorted(_keys(ids, index.search("report", filters=both).hits)) == ["b", "c", "d"]
    since = SearchFilters.uploaded_between(date(2021, 7, 1), None)
    assert _keys(ids, index.search("", filters=since, limit=10).hits) in (["e", "f"],
                                                                           ["f", "e"])
    until = SearchFilters.uploaded_between(None, date(2019, 3, 1))
    assert _keys(ids, index.search("", filters=until).hits) == ["a"]
    # Days past what tantivy can hold (1677-2262) still bound nothing away.
    wide = SearchFilters.uploaded_between(date(1, 1, 1), date(9999, 12, 31))
    assert index.search("", filters=wide).total == len(FILED)


def test_sort_by_date_orders_every_match_newest_or_oldest_first(indexed) -> None:
    _, index, ids = indexed
    newest = index.search("report", sort=SearchSort.DATE, limit=10)
    assert _keys(ids, newest.hits) == ["e", "d", "c", "b", "a"]
    assert all(h.score == 0.0 for h in newest.hits)
    oldest = index.search("", sort=SearchSort.DATE_ASC, limit=2, offset=1)
    assert (_keys(ids, oldest.hits), oldest.total) == (["b", "c"], len(FILED))
    in_folder = index.search("report", filters=SearchFilters(path_prefix="2019"),
                             sort=SearchSort.DATE)
    assert _keys(ids, in_folder.hits) == ["c", "b", "a"]


@pytest.mark.parametrize("query", ["report", "quarterly report", '"quarterly report"'])
def test_postgres_ordered_by_date_counts_no_word_in_the_matches(query: str) -> None:
    """Ordered by date, hits carry score 0: PostgreSQL computes no BM25 for the matches (it
    counted each word in each of them, tens of thousands at a common word), while the
    relevance order still does."""
    by_date, _ = _search_sql(read_query(query), "", "", SearchSort.DATE)
    by_relevance, _ = _search_sql(read_query(query), "", "", SearchSort.RELEVANCE)
    assert "ts_rank_cd" not in by_date and "count(*) FROM found" in by_date  # still counted
    assert "ts_rank_cd" in by_relevance


def test_postgres_counts_per_type_join_the_documents_only_for_a_filter_on_them() -> None:
    """The date order joins the documents (their upload dates); the count and the counts per
    type of the same matches (`found`) need no order, so they skip the join unless a folder or
    date filter reads it (one lookup per match: 120 ms at 31,000 matches)."""
    joined = _JOIN_DOCUMENTS
    ordered, _ = _search_sql(read_query("report"), joined, "", SearchSort.DATE, facets=True)
    filtered, _ = _search_sql(read_query("report"), joined, " AND doc_path >= :path_low",
                              SearchSort.DATE, filtered_by_documents=True, facets=True)

    def counted(sql: str) -> str:
        return sql.split("found AS (", 1)[1].split("LIMIT :cap", 1)[0]

    assert "documents" not in counted(ordered) and "FROM documents" in ordered
    assert "FROM documents" in counted(filtered)


def test_counts_per_type_cover_every_match_not_only_the_page(indexed) -> None:
    _, index, _ = indexed
    page = index.search("report", limit=1, facets=True)
    assert page.doc_types == {"invoice": 2, "letter": 1, "memo": 1}
    assert page.total == 5  # the untyped receipt counts in the total only
    assert len(page.hits) == 1
    counted = index.search("report", limit=0, facets=True,
                           filters=SearchFilters(path_prefix="2019"))
    assert (counted.total, counted.doc_types) == (3, {"invoice": 2, "letter": 1})
    assert index.search("zzzunknown", facets=True).doc_types == {}
    assert index.search("report").doc_types is None  # not asked for


def test_a_tenant_sees_its_own_hits_and_counts_only(indexed) -> None:
    store, index, _ = indexed
    theirs = _complete(store, {"x": Filed("2019/secret.pdf", date(2019, 5, 1), "invoice",
                                          "quarterly report of acme", "acme")})
    assert index_pending(store, index, 100) == 1
    with tenant_scope("acme"):
        mine = index.search("report", facets=True,
                            filters=SearchFilters(path_prefix="2019/"))
        assert ([h.id for h in mine.hits], mine.doc_types) == ([theirs["x"]], {"invoice": 1})
        assert index.search("", sort=SearchSort.DATE).total == 1
    with tenant_scope("default"):
        others = index.search("report", facets=True, filters=SearchFilters(path_prefix="2019/"))
        assert (others.total, others.doc_types) == (2, {"invoice": 2})
        assert theirs["x"] not in {h.id for h in others.hits}
    with tenant_scope("globex"):
        assert index.search("report", facets=True).doc_types == {}


class _Encoder:
    """Stands in for MiniLM: every query points along the first axis."""

    version = "test-encoder"

    def embed_one(self, text: str) -> np.ndarray:
        vector = np.zeros(8, dtype=np.float32)
        vector[0] = 1.0
        return vector


def test_search_by_meaning_keeps_to_the_folder_and_dates(settings: Settings,
                                                         store: Store) -> None:
    ids = _complete(store, FILED)
    with store.db.write() as session:  # every document close in meaning to any query
        session.execute(update(Document).values(
            embedding=vector_bytes(_Encoder().embed_one("")), embedding_model="test-encoder"))
    index = open_index("tantivy", settings.index_dir, writer=True)
    try:
        def semantic(filters: SearchFilters) -> list[str]:
            found = modes.search(index, store.db, "anything", SearchMode.SEMANTIC,
                                 filters=filters, zero_shot=True, encoder=_Encoder,
                                 vectors=None, limit=10)
            return sorted(_keys(ids, found.hits))

        assert semantic(SearchFilters(path_prefix="2019/")) == ["a", "b"]
        assert semantic(SearchFilters.uploaded_between(date(2021, 1, 1), None)) == ["d", "e",
                                                                                     "f"]
        with pytest.raises(modes.SortNeedsKeyword):
            modes.search(index, store.db, "anything", SearchMode.SEMANTIC,
                         sort=SearchSort.DATE, zero_shot=True, encoder=_Encoder)
    finally:
        index.close()


def test_the_search_command_filters_by_folder_and_dates_and_counts_types(
        settings: Settings, store: Store) -> None:
    from typer.testing import CliRunner

    from docflow.cli import app

    ids = _complete(store, FILED)
    index = open_index("tantivy", settings.index_dir, writer=True)
    assert index_pending(store, index, 100) == len(FILED)
    index.close()
    run = CliRunner().invoke(app, ["search", "report", "--data-dir", str(settings.data_dir),
                                   "--path", "2019/", "--from", "2019-03-02", "--sort", "date",
                                   "--mode", "keyword"], env={"COLUMNS": "200"})
    assert run.exit_code == 0, run.output
    assert ids["b"] in run.output and ids["a"] not in run.output
    assert "1 documents match" in run.output and "by type: invoice 1" in run.output
    bad = CliRunner().invoke(app, ["search", "report", "--data-dir", str(settings.data_dir),
                                   "--from", "March"])
    assert bad.exit_code == 2
