"""The PostgreSQL full-text backend: a table with a generated tsvector, a GIN index,
websearch_to_tsquery for user queries and ts_headline for snippets.

For the scale-out mode (`DOCFLOW_SEARCH=postgres`): every API host reads the same index, and
any host may write, since PostgreSQL serialises writers itself. The table, `search_index`, is
created by the migrations (0008_search_index) like every other table, so later changes to it
are migrated too. Its tsvector covers the filename and the first million characters of the
text (a tsvector holds at most 1 MB). It is derived data: the indexer fills it again from the
documents whose `indexed` flag is false.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DataError, InternalError

from docflow.search import (
    ReadOnlyIndex,
    SearchDocument,
    SearchError,
    SearchFilters,
    SearchHit,
    SearchResults,
    SearchSort,
    check_page,
)
from docflow.store.documents import path_prefix_bounds
from docflow.store.scope import current_scope

TABLE = "search_index"
SNIPPET_CHARS = 200
# ts_headline re-parses the text for every hit: give it a bounded window.
HEADLINE_CHARS = 100_000
# Markers that cannot occur in extracted text; replaced by <b> after HTML-escaping.
_START, _STOP = "\x02", "\x03"

_UPSERT = text(f"""
    INSERT INTO {TABLE} (id, filename, doc_type, batch_id, body, tenant_id)
    VALUES (:id, :filename, :doc_type, :batch_id, :body, :tenant_id)
    ON CONFLICT (id) DO UPDATE SET filename = EXCLUDED.filename, doc_type = EXCLUDED.doc_type,
        batch_id = EXCLUDED.batch_id, body = EXCLUDED.body, tenant_id = EXCLUDED.tenant_id""")

_PLAIN = re.compile(r'[\w\s"\-]*')
_WORD = re.compile(r"\w+")
# websearch_to_tsquery reads only queries this short: thousands of operators ("-----a")
# overflow its stack ("tsquery stack too small"); longer ones are searched as words.
MAX_SYNTAX_CHARS = 1_000
# Words searched when the query is read as plain words; the rest add cost, not recall.
MAX_WORDS = 64

_SEARCH = f"""
    SELECT id, filename, doc_type, ts_rank_cd(tsv, q) AS score, count(*) OVER () AS total,
           ts_headline('english', left(body, {HEADLINE_CHARS}), q,
                       'StartSel={_START}, StopSel={_STOP}, MaxWords=30, MinWords=12, '
                       'MaxFragments=2, FragmentDelimiter=" … "') AS snippet
    FROM {TABLE}{{join}}, {{tsquery}} AS q
    WHERE tsv @@ q {{filters}}
    ORDER BY {{order}}
    LIMIT :limit OFFSET :offset"""

_LIST = f"""
    SELECT id, filename, doc_type, 0.0 AS score, count(*) OVER () AS total,
           left(body, {SNIPPET_CHARS}) AS snippet
    FROM {TABLE}{{join}} WHERE true {{filters}}
    ORDER BY {{order}} LIMIT :limit OFFSET :offset"""

# Matches per type over the same match set as _SEARCH or _LIST (`source`: their FROM..WHERE).
_FACETS = """
    SELECT doc_type, count(*) AS n FROM {source} AND doc_type IS NOT NULL GROUP BY doc_type"""

# Path and upload date are read from the documents themselves (the truth, never stale): joined
# only when a filter or the order needs them, with names that clash with no search_index column.
_DOCUMENTS = (" JOIN (SELECT id AS doc_id, source_path AS doc_path, created_at AS uploaded_at "
              f"FROM documents) d ON d.doc_id = {TABLE}.id")
_ORDER = {SearchSort.RELEVANCE: "score DESC, id", SearchSort.DATE: "uploaded_at DESC, id",
          SearchSort.DATE_ASC: "uploaded_at ASC, id"}


class IndexNotMigrated(SearchError):
    code = "search_index_not_migrated"


class PostgresIndex:
    def __init__(self, database_url: str, *, writer: bool, pool_size: int = 2,
                 max_overflow: int = 4) -> None:
        if not database_url.startswith("postgresql"):
            raise ValueError("the postgres search backend needs a PostgreSQL database URL "
                             "(DOCFLOW_DATABASE_URL=postgresql+psycopg://...)")
        self.writable = writer
        self._engine: Engine | None = create_engine(database_url, pool_size=pool_size,
                                                    max_overflow=max_overflow,
                                                    pool_pre_ping=True)
        with self._engine.connect() as conn:
            found = conn.execute(text("SELECT to_regclass(:t)"), {"t": TABLE}).scalar_one()
        if found is None:
            self.close()
            raise IndexNotMigrated(f"the database has no {TABLE} table yet: run `docflow "
                                   "migrate` (every docflow service also migrates as it starts)")

    def _eng(self) -> Engine:
        if self._engine is None:
            raise ValueError("this search index handle is closed")
        return self._engine

    def _check_writable(self) -> None:
        if not self.writable:
            raise ReadOnlyIndex("this search index handle is read-only; only the indexer writes")

    def index(self, docs: Sequence[SearchDocument]) -> None:
        self._check_writable()
        latest = {d.id: d for d in docs}
        if not latest:
            return
        with self._eng().begin() as conn:
            conn.execute(_UPSERT, [
                {"id": d.id, "filename": d.filename, "doc_type": d.doc_type,
                 "batch_id": d.batch_id, "body": d.text.replace("\x00", ""),
                 "tenant_id": d.tenant}
                for d in latest.values()])

    def delete(self, ids: Sequence[str]) -> None:
        self._check_writable()
        if ids:
            with self._eng().begin() as conn:
                conn.execute(text(f"DELETE FROM {TABLE} WHERE id = ANY(:ids)"),
                             {"ids": list(set(ids))})

    def search(self, query: str, doc_type: str | None = None, batch_id: str | None = None,
               limit: int = 20, offset: int = 0, *, filters: SearchFilters | None = None,
               sort: SearchSort = SearchSort.RELEVANCE, facets: bool = False) -> SearchResults:
        check_page(limit, offset)
        filters = (filters or SearchFilters()).merged(doc_type, batch_id)
        # PostgreSQL text holds no NUL: none is in a query's words, and no filter matches it.
        query = query.replace("\x00", " ")
        if "\x00" in "".join(v for v in (filters.doc_type, filters.batch_id,
                                          filters.path_prefix) if v):
            return SearchResults(total=0, hits=[], doc_types={} if facets else None)
        params: dict[str, object] = {"q": query, "limit": max(limit, 1), "offset": offset}
        join, where = _filter_sql(filters, params, sort)
        parts = {"filters": where, "join": join}
        order = _ORDER[sort]
        words_sql = _SEARCH.format(**parts, order=order,
                                   tsquery="to_tsquery('english', :q)")
        words = " | ".join(list(dict.fromkeys(_WORD.findall(query)))[:MAX_WORDS])
        if query.strip() in ("", "*"):
            sql = _LIST.format(**parts, order="id" if sort is SearchSort.RELEVANCE else order)
        elif (len(query) <= MAX_SYNTAX_CHARS and _PLAIN.fullmatch(query)
              and query.count('"') % 2 == 0):
            sql = _SEARCH.format(**parts, order=order,
                                 tsquery="websearch_to_tsquery('english', :q)")
        else:
            # Stray syntax ("Re:", unbalanced quotes): any of the words, best match first.
            if not words:
                return SearchResults(total=0, hits=[], doc_types={} if facets else None)
            sql, params["q"] = words_sql, words
        try:
            with self._eng().connect() as conn:
                rows = conn.execute(text(sql), params).all()
        except (DataError, InternalError):
            # Syntax websearch_to_tsquery accepted but cannot run: its plain words instead.
            if sql == words_sql or not words:
                raise
            sql, params["q"] = words_sql, words
            with self._eng().connect() as conn:
                rows = conn.execute(text(sql), params).all()
        total = int(rows[0].total) if rows else 0
        if not rows and offset:
            # Past the last page: count without fetching rows.
            count_params = {**params, "limit": 1, "offset": 0}
            with self._eng().connect() as conn:
                first = conn.execute(text(sql), count_params).first()
            total = int(first.total) if first else 0
        doc_types = self._type_counts(sql, params) if facets else None
        if limit == 0:
            return SearchResults(total=total, hits=[], doc_types=doc_types)
        # Ordered by date, a score would rank nothing (and tantivy computes none): 0.
        relevance = sort is SearchSort.RELEVANCE
        return SearchResults(total=total, doc_types=doc_types, hits=[
            SearchHit(id=r.id, filename=r.filename, doc_type=r.doc_type,
                      score=float(r.score) if relevance else 0.0,
                      snippet=_snippet(r.snippet)) for r in rows])

    def _type_counts(self, sql: str, params: dict[str, object]) -> dict[str, int]:
        """Matches per document type for the search `sql` ran: its FROM..WHERE, grouped."""
        source = sql.split("FROM ", 1)[1].split("ORDER BY", 1)[0]
        with self._eng().connect() as conn:
            rows = conn.execute(text(_FACETS.format(source=source)), params).all()
        return {r.doc_type: int(r.n) for r in rows}

    @property
    def keeps_tenants(self) -> bool:
        return True  # the tenant_id column (migration 0014)

    def count(self) -> int:
        with self._eng().connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar_one())

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._engine = None

    def __enter__(self) -> PostgresIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _filter_sql(filters: SearchFilters, params: dict[str, object],
                sort: SearchSort) -> tuple[str, str]:
    """The join (when needed) and the WHERE conditions for `filters` and the request's tenant;
    their values go into `params`."""
    where = ""
    if filters.doc_type is not None:
        where += " AND doc_type = :doc_type"
        params["doc_type"] = filters.doc_type
    if filters.batch_id is not None:
        where += " AND batch_id = :batch_id"
        params["batch_id"] = filters.batch_id
    scope = current_scope()  # a request's tenant (docflow.store.scope): hits and counts
    if scope is not None:
        where += " AND tenant_id = :tenant_id"
        params["tenant_id"] = scope.tenant
    if filters.path_prefix is not None:
        # The range GET /api/documents filters by: the source_path index, "%" means itself.
        low, high = path_prefix_bounds(filters.path_prefix)
        where += " AND doc_path >= :path_low"
        params["path_low"] = low
        if high is not None:
            where += " AND doc_path < :path_high"
            params["path_high"] = high
    if filters.created_from is not None:
        where += " AND uploaded_at >= :created_from"
        params["created_from"] = filters.created_from
    if filters.created_before is not None:
        where += " AND uploaded_at < :created_before"
        params["created_before"] = filters.created_before
    needs_documents = filters.beyond_type_and_batch or sort is not SearchSort.RELEVANCE
    return (_DOCUMENTS if needs_documents else ""), where


def _snippet(raw: str | None) -> str:
    """Escaped HTML whose only markup is <b>, at most about SNIPPET_CHARS characters."""
    flat = " ".join((raw or "").split())
    if len(flat) > SNIPPET_CHARS + 40:
        flat = flat[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
    escaped = html.escape(flat, quote=False)
    return escaped.replace(_START, "<b>").replace(_STOP, "</b>")
