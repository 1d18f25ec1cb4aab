"""The PostgreSQL full-text backend: a table with a generated tsvector, a GIN index, BM25
computed in SQL over the query's words (docflow.search.query reads the query, as for tantivy)
and ts_headline for snippets.

For the scale-out mode (`DOCFLOW_SEARCH=postgres`): every API host reads the same index, and
any host may write, since PostgreSQL serialises writers itself. The table, `search_index`, is
created by the migrations (0008_search_index) like every other table, so later changes to it
are migrated too. Its tsvector covers the filename and the first million characters of the
text (a tsvector holds at most 1 MB). It is derived data: the indexer fills it again from the
documents whose `indexed` flag is false.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

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
from docflow.search.query import Group, KeywordQuery, Occur, Terms, plain_words, read_query
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

# BM25's constants, as tantivy (and Lucene) use them.
_K1, _B = 1.2, 0.75
# ts_rank_cd with these weights (D, C, B = body, A = filename) counts a word's occurrences.
_COUNT_WEIGHTS = "'{0, 0, 1, 1}'"
_FIELD_WEIGHT = {"filename": "A", "text": "B"}
# Documents the idf counts over: the live rows PostgreSQL's statistics keep (no scan per query:
# counting 100,000 took 60 ms a search; unlike pg_class.reltuples, they follow inserts before
# any ANALYZE), else an exact count (cheap when small, and the statistics may lag a moment).
_DOCUMENTS = f"""(SELECT CASE WHEN n_live_tup >= 10000 THEN n_live_tup::float8
                        ELSE (SELECT count(*) FROM {TABLE})::float8 END
                 FROM pg_stat_user_tables WHERE relid = '{TABLE}'::regclass)"""

# A query that matches more documents than this is counted and ranked among the first this many
# it finds (`total_is_lower_bound`), plus as many holding all its words and its phrase: BM25 in
# SQL costs ~10 us a match, 1.5 s for a word in a third of 500,000 documents. Ordered by date,
# the page is the exact newest (oldest) matches; only the count stops here.
RANKED_MATCHES = 1_000

# BM25 in SQL over the candidates: the first :ranked matches (`found` reads one more, :cap, to
# tell a capped count), with the first :ranked of each tier (all the words, the phrase) added,
# so a capped search still ranks the best tiers first. Per leaf, its occurrences (tf), the
# candidates holding it (df; all the matches unless capped), the document's distinct lexemes
# (its length); then the tiers and the score.
_SEARCH = f"""
    WITH q AS (SELECT {{leaves}}),
    found AS (
        SELECT s.id, s.doc_type FROM {TABLE} s{{join}} WHERE s.tsv @@ {{match}} {{filters}}
        LIMIT :cap),
    ranked AS (SELECT * FROM found LIMIT :ranked),
    candidates AS (SELECT id FROM ranked{{better}}),
    matched AS (
        SELECT s.id, length(s.tsv)::float8 AS dl, {{counts}}, {{tiers}}
        FROM candidates c JOIN {TABLE} s ON s.id = c.id, q),
    scored AS (
        SELECT *, (SELECT count(*) FROM found) AS total, avg(dl) OVER () AS avgdl, {{dfs}},
               {_DOCUMENTS} AS n
        FROM matched),
    page AS (
        SELECT id, total, {{score}} AS score FROM scored
        ORDER BY score DESC, id LIMIT :limit OFFSET :offset)
    SELECT p.id, s.filename, s.doc_type, p.score, p.total{{facets}},
           ts_headline('english', left(s.body, {HEADLINE_CHARS}), {{highlight}},
                       'StartSel={_START}, StopSel={_STOP}, MaxWords=30, MinWords=12, '
                       'MaxFragments=2, FragmentDelimiter=" … "') AS snippet
    FROM page p JOIN {TABLE} s ON s.id = p.id, q
    ORDER BY p.score DESC, p.id"""
# The first :ranked of a tier's matches, added to the candidates (relevance order only).
_BETTER = f"""
        UNION SELECT * FROM (SELECT s.id FROM {TABLE} s{{join}}, q
                             WHERE s.tsv @@ {{match}} AND {{tier}} {{filters}} LIMIT :ranked
                            ) t{{n}}"""

# Ordered by date: the page is the exact newest (oldest) matches, the count stops at :cap. The
# match names its tsqueries inline (`{{match}}`), not through `q`, so that the planner sees
# each as a constant and estimates from the word's statistics how many documents
# match: a common word walks a tenant's documents newest first (ix_documents_tenant_created)
# and stops at the page, a rare one sorts its few matches. Through `q` every word looked rare
# (a fixed guess of 0.5%), and a common one sorted all its matches: 0.6-1.1 s at 100,000.
_SEARCH_BY_DATE = f"""
    WITH q AS (SELECT {{leaves}}),
    page AS (
        SELECT s.id, d.uploaded_at FROM {TABLE} s{{join}} WHERE s.tsv @@ {{match}}
        {{filters}} ORDER BY {{order}} LIMIT :limit OFFSET :offset),
    found AS (
        SELECT s.id, s.doc_type FROM {TABLE} s{{count_join}}
        WHERE s.tsv @@ {{match}} {{filters}} LIMIT :cap)
    SELECT p.id, s.filename, s.doc_type, 0.0 AS score,
           (SELECT count(*) FROM found) AS total{{facets}},
           ts_headline('english', left(s.body, {HEADLINE_CHARS}), {{highlight}},
                       'StartSel={_START}, StopSel={_STOP}, MaxWords=30, MinWords=12, '
                       'MaxFragments=2, FragmentDelimiter=" … "') AS snippet
    FROM page p JOIN {TABLE} s ON s.id = p.id, q
    ORDER BY {{final_order}}"""

# Matches per type, a column of _SEARCH, _SEARCH_BY_DATE and _LIST: over the same matches as
# `total`.
_TYPE_COUNTS = """,
           (SELECT coalesce(json_object_agg(doc_type, n), '{}') FROM (
               SELECT doc_type, count(*) AS n FROM (SELECT * FROM found LIMIT :ranked) f
               WHERE doc_type IS NOT NULL GROUP BY doc_type) t) AS facets"""

# Every document (`*`, or only filters): counted, and per type, up to :cap like a search's
# matches, not every row of the table per page (500,000 on a whole-archive listing; a batch's
# is counted whole, see `search`); the page walks the order's index and stops at it.
_LIST = f"""
    WITH found AS (
        SELECT {TABLE}.id, {TABLE}.doc_type FROM {TABLE}{{join}} WHERE true {{filters}}
        LIMIT :cap)
    SELECT id, filename, doc_type, 0.0 AS score, (SELECT count(*) FROM found) AS total{{facets}},
           left(body, {SNIPPET_CHARS}) AS snippet
    FROM {TABLE}{{join}} WHERE true {{filters}}
    ORDER BY {{order}} LIMIT :limit OFFSET :offset"""

# Path and upload date are read from the documents themselves (the truth, never stale): joined
# only when a filter or the order needs them, with names that clash with no search_index column.
# The tenants are equal too (an index row is its document's): said so, a request's tenant is
# the documents' as well, and their indexes that lead by it serve the date order.
_JOIN_DOCUMENTS = (" JOIN (SELECT id AS doc_id, source_path AS doc_path, created_at AS "
                   "uploaded_at, tenant_id AS doc_tenant FROM documents) d "
                   "ON d.doc_id = {table}.id AND d.doc_tenant = {table}.tenant_id")
# By date, ties by id in the same direction: the documents' (tenant, created_at, id) index read
# forwards or backwards gives the whole order, so a page sorts nothing.
_ORDER = {SearchSort.RELEVANCE: "score DESC, id", SearchSort.DATE: "uploaded_at DESC, id DESC",
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
               sort: SearchSort = SearchSort.RELEVANCE, facets: bool = False,
               tiers: bool = True) -> SearchResults:
        check_page(limit, offset)
        filters = (filters or SearchFilters()).merged(doc_type, batch_id)
        # PostgreSQL text holds no NUL: none is in a query's words, and no filter matches it.
        query = query.replace("\x00", " ")
        nothing = SearchResults(total=0, hits=[], doc_types={} if facets else None)
        if "\x00" in "".join(v for v in (filters.doc_type, filters.batch_id,
                                          filters.path_prefix) if v):
            return nothing
        reading = read_query(query)
        # A batch's listing is counted whole: a batch is bounded (max_batch_files), its rows are
        # a range of the batch_id index, and clients count what of a batch is searchable so.
        exact = reading.everything and filters.batch_id is not None
        # One more than is counted: finding it says the count stopped short (NULL: no limit).
        params: dict[str, object] = {"limit": max(limit, 1), "offset": offset,
                                     "ranked": None if exact else RANKED_MATCHES,
                                     "cap": None if exact else RANKED_MATCHES + 1}
        joined, where = _filter_sql(filters, params, sort)
        if reading.everything:
            sql = _LIST.format(join=joined.format(table=TABLE), filters=where,
                               order="id" if sort is SearchSort.RELEVANCE else _ORDER[sort],
                               facets=_TYPE_COUNTS if facets else "")
        elif not reading.root.clauses:
            return nothing  # no word to search ("-", '""')
        else:
            sql, leaves = _search_sql(reading, joined, where, sort,
                                      filters.beyond_type_and_batch, facets, tiers)
            params.update(leaves)
        try:
            with self._eng().connect() as conn:
                rows = conn.execute(text(sql), params).all()
        except (DataError, InternalError):
            # A reading PostgreSQL refuses to run: its plain words instead.
            reading = plain_words(query)
            if not reading.root.clauses:
                raise
            sql, leaves = _search_sql(reading, joined, where, sort,
                                      filters.beyond_type_and_batch, facets, tiers)
            params.update(leaves)
            with self._eng().connect() as conn:
                rows = conn.execute(text(sql), params).all()
        first = rows[0] if rows else None
        if not rows and offset:
            # Past the last page: count without fetching rows.
            count_params = {**params, "limit": 1, "offset": 0}
            with self._eng().connect() as conn:
                first = conn.execute(text(sql), count_params).first()
        total = int(first.total) if first else 0
        doc_types: dict[str, int] | None = None
        if facets:  # counted in the search's own statement
            doc_types = {t: int(n) for t, n in (first.facets or {}).items()} if first else {}
        capped = not exact and total > RANKED_MATCHES
        total = min(total, RANKED_MATCHES) if capped else total
        if limit == 0:
            return SearchResults(total=total, hits=[], doc_types=doc_types,
                                 total_is_lower_bound=capped)
        # Ordered by date, a score would rank nothing (and tantivy computes none): 0.
        relevance = sort is SearchSort.RELEVANCE
        return SearchResults(total=total, doc_types=doc_types, total_is_lower_bound=capped,
                             hits=[
            SearchHit(id=r.id, filename=r.filename, doc_type=r.doc_type,
                      score=float(r.score) if relevance else 0.0,
                      snippet=_snippet(r.snippet)) for r in rows])

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


def _search_sql(reading: KeywordQuery, joined: str, filters: str, sort: SearchSort,
                filtered_by_documents: bool = False, facets: bool = False, tiers: bool = True
                ) -> tuple[str, dict[str, str]]:
    """The SQL that matches and ranks `reading` (and counts its matches per type: `facets`),
    and its leaves' parameters (l0, l1, ...). `filtered_by_documents`: a filter reads the joined
    documents (else the join, if any, is for the date order, which counting needs not).
    `tiers=False`: scored by BM25 alone, without the bonus for all the words and for the phrase
    (a capped search still adds the first of those tiers to its candidates)."""
    names: dict[Terms, str] = {}
    params: dict[str, str] = {}

    def leaf(terms: Terms) -> str:
        if terms not in names:
            names[terms] = f"l{len(names)}"
            params[names[terms]] = _tsquery_text(terms)
        return names[terms]

    def tsquery(terms: Terms) -> str:
        return f"to_tsquery('{'simple' if terms.prefix else 'english'}', :{leaf(terms)})"

    # Inline, not through `q`: see _SEARCH_BY_DATE (the count of a common word, too, reads its
    # first :cap matches in the table's order instead of building its whole bitmap first).
    match = _match_sql(reading.root, tsquery)
    ranked = [leaf(terms) for terms in reading.ranked]
    by_date = sort is not SearchSort.RELEVANCE
    tier_matches = []
    if reading.all_words and not by_date:
        tier_matches.append(f"s.tsv @@ ({' && '.join(f'q.{name}' for name in ranked)})")
    if reading.phrase and not by_date:
        tier_matches.append(f"s.tsv @@ q.{leaf(Terms(reading.phrase))}")
    leaves = ", ".join(f"{tsquery(terms)} AS {name}" for terms, name in names.items())
    highlight = f"({' || '.join(f'q.{name}' for name in ranked)})" if ranked else "''::tsquery"
    join = joined.format(table="s")
    # Counting needs the documents only where a filter reads them (else they order the page).
    count_join = join if filtered_by_documents else ""
    type_counts = _TYPE_COUNTS if facets else ""
    if by_date:
        return _SEARCH_BY_DATE.format(
            leaves=leaves, join=join, count_join=count_join, match=match, filters=filters,
            order=_ORDER[sort], highlight=highlight, facets=type_counts,
            final_order="p." + _ORDER[sort].replace(", id", ", p.id")), params
    scored = list(zip(reading.ranked, ranked, strict=True))
    counts = ", ".join(f"ts_rank_cd({_COUNT_WEIGHTS}, s.tsv, q.{name}) AS tf_{name}"
                       for _, name in scored) or "0 AS tf_none"
    dfs = ", ".join(f"(count(*) FILTER (WHERE tf_{name} > 0) OVER ())::float8 AS df_{name}"
                    for _, name in scored) or "0 AS df_none"
    # A phrase weighs as many words as it has (tantivy and Lucene sum its words' idfs).
    bm25 = [f"{len(terms.words)} * ln(1 + (n - df_{name} + 0.5) / (df_{name} + 0.5)) "
            f"* tf_{name} * {_K1 + 1} / (tf_{name} + {_K1} * (1 - {_B} + {_B} * dl / "
            "greatest(avgdl, 1)))"
            for terms, name in scored]
    # The tiers' columns feed only their bonus; without it they still add their candidates.
    bonused = tier_matches if tiers else []
    score = " + ".join(bm25 + [f"{reading.bonus} * tier{n}"
                               for n in range(len(bonused))]) or "0"
    tier_columns = ", ".join(f"({sql})::int AS tier{n}"
                             for n, sql in enumerate(bonused)) or "0 AS tier"
    better = "".join(_BETTER.format(join=join, match=match, tier=tier, filters=filters, n=n)
                     for n, tier in enumerate(tier_matches))
    sql = _SEARCH.format(leaves=leaves, counts=counts, tiers=tier_columns, match=match,
                         join=count_join, filters=filters, dfs=dfs, score=score,
                         highlight=highlight, better=better, facets=type_counts)
    return sql, params


def _match_sql(group: Group, tsquery: Callable[[Terms], str]) -> str:
    """The group as one tsquery expression: MUSTs and'ed (else any SHOULD), no MUST_NOT;
    `tsquery` gives a leaf's SQL."""
    parts: dict[Occur, list[str]] = {occur: [] for occur in Occur}
    for occur, child in group.clauses:
        parts[occur].append(_match_sql(child, tsquery) if isinstance(child, Group)
                            else tsquery(child))
    positive = parts[Occur.MUST] or (
        [f"({' || '.join(parts[Occur.SHOULD])})"] if parts[Occur.SHOULD] else [])
    return "(" + " && ".join(positive + [f"!!{x}" for x in parts[Occur.MUST_NOT]]) + ")"


def _tsquery_text(terms: Terms) -> str:
    """to_tsquery's input for one leaf: its words are \\w+, so quoting them is safe."""
    weight = _FIELD_WEIGHT.get(terms.field or "", "")
    if terms.prefix:
        return f"'{terms.words[0]}':*{weight}"
    return " <-> ".join(f"'{word}'" + (f":{weight}" if weight else "") for word in terms.words)


def _filter_sql(filters: SearchFilters, params: dict[str, object],
                sort: SearchSort) -> tuple[str, str]:
    """The join (when needed; `{table}` names the search table) and the WHERE conditions for
    `filters` and the request's tenant; their values go into `params`."""
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
    return (_JOIN_DOCUMENTS if needs_documents else ""), where


def _snippet(raw: str | None) -> str:
    """Escaped HTML whose only markup is <b>, at most about SNIPPET_CHARS characters."""
    flat = " ".join((raw or "").split())
    if len(flat) > SNIPPET_CHARS + 40:
        flat = flat[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
    escaped = html.escape(flat, quote=False)
    return escaped.replace(_START, "<b>").replace(_STOP, "</b>")
