"""Full-text search over processed documents: one small interface, one module per backend.

`open_index(backend, path, writer, database_url)` is the front door. One process opens the index
with `writer=True` (the indexer); every API process opens it read-only and sees what the indexer
has committed. Backends: tantivy (a directory, the default) and postgres (full-text in the
database, for the scale-out mode).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable


class SearchMode(StrEnum):
    """How a query is matched (docflow.search.modes runs each): by its words, by meaning
    (stored embeddings), or both rankings fused."""

    KEYWORD = "keyword"
    SEMANTIC = "semantic"
    HYBRID = "hybrid"


@dataclass(frozen=True)
class SearchDocument:
    """What the indexer hands to the search index for one processed document."""

    id: str
    filename: str
    doc_type: str | None
    batch_id: str | None
    text: str
    tenant: str = "default"  # whose it is: a search in a tenant's scope finds its own only
    source_path: str | None = None  # where it sat in the uploaded folder ("2019/q1/a.pdf")
    created_at: datetime | None = None  # when it was uploaded: the date filters and sort


class SearchSort(StrEnum):
    """The order of hits: best match first, or by upload date (newest or oldest first)."""

    RELEVANCE = "relevance"
    DATE = "date"
    DATE_ASC = "date_asc"


@dataclass(frozen=True)
class SearchFilters:
    """Which documents a search may find; every filter given must hold (None: no filter).

    `path_prefix` means what GET /api/documents' does (docflow.store.documents.
    path_prefix_bounds): the document's source_path starts with it, after the same cleaning
    ("2019/" is that folder and below, "2019/inv" also names). The dates bound the upload
    date, `created_at`: from `created_from` (inclusive) to `created_before` (exclusive).
    """

    doc_type: str | None = None
    batch_id: str | None = None
    path_prefix: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None

    def merged(self, doc_type: str | None, batch_id: str | None) -> SearchFilters:
        """These filters with the older keyword arguments of search() folded in."""
        for name, value in (("doc_type", doc_type), ("batch_id", batch_id)):
            if value is not None and getattr(self, name) not in (None, value):
                raise ValueError(f"{name} given twice with different values")
        return replace(self, doc_type=self.doc_type if doc_type is None else doc_type,
                       batch_id=self.batch_id if batch_id is None else batch_id)

    @classmethod
    def uploaded_between(cls, first_day: date | None, last_day: date | None, *,
                         doc_type: str | None = None, batch_id: str | None = None,
                         path_prefix: str | None = None) -> SearchFilters:
        """Filters for documents uploaded from `first_day` through `last_day` (whole days,
        UTC; None: unbounded), and the other filters given."""
        return cls(doc_type=doc_type, batch_id=batch_id, path_prefix=path_prefix,
                   created_from=_midnight(first_day), created_before=_midnight(last_day, 1))

    @property
    def beyond_type_and_batch(self) -> bool:
        """Whether a filter besides doc_type and batch_id is set."""
        return (self.path_prefix is not None or self.created_from is not None
                or self.created_before is not None)


def _midnight(day: date | None, days_after: int = 0) -> datetime | None:
    """Midnight UTC starting `day` plus `days_after` days; None for no day (or past 9999)."""
    if day is None:
        return None
    try:
        return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=days_after)
    except OverflowError:  # the day after 9999-12-31: no bound
        return None


@dataclass(frozen=True)
class SearchHit:
    """One matching document; `snippet` is plain text with the matched terms as `<b>term</b>`.

    Everything else in the snippet is HTML-escaped, so `<b>` is the only markup it can contain.
    """

    id: str
    filename: str
    doc_type: str | None
    score: float
    snippet: str


@dataclass(frozen=True)
class SearchResults:
    """One page of hits; `total` counts every match, not just this page, and so does
    `doc_types` (matches per document type; None when not asked for). Documents without a
    type are counted in `total` only. `total_is_lower_bound`: a backend stopped counting (and
    ranking) at `total` matches, and there are more; `doc_types` counted those only."""

    total: int
    hits: list[SearchHit]
    doc_types: dict[str, int] | None = None
    total_is_lower_bound: bool = False


# Deepest hit a page may reach (offset + limit): a ranking is collected whole up to the page's
# end, so a huge offset would allocate that many hits (tantivy aborts the process).
MAX_SEARCH_DEPTH = 10_000


class SearchError(Exception):
    """A search index that cannot do what was asked. `code` is stable; `message` is for a person."""

    code = "search_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IndexLocked(SearchError):
    code = "search_index_locked"


class ReadOnlyIndex(SearchError):
    code = "search_index_read_only"


class SearchDepthExceeded(SearchError):
    code = "search_too_deep"


class IndexOutdated(SearchError):
    """An index written by an older docflow, without fields this search needs (tenant, path,
    date): `docflow reindex` rebuilds it (the housekeeper starts that by itself)."""

    code = "search_index_outdated"


def check_page(limit: int, offset: int) -> None:
    """Refuse a page no backend should collect: negative, or reaching past MAX_SEARCH_DEPTH."""
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")
    if offset + limit > MAX_SEARCH_DEPTH:
        raise SearchDepthExceeded(f"Search pages reach at most {MAX_SEARCH_DEPTH} hits deep "
                                  "(offset + limit); narrow the query or add filters instead.")


@runtime_checkable
class SearchIndex(Protocol):
    def index(self, docs: Sequence[SearchDocument]) -> None:
        """Add or replace (by id) every document, then commit once for the whole batch."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Remove the documents with these ids (unknown ids are ignored), then commit."""
        ...

    def search(
        self,
        query: str,
        doc_type: str | None = None,
        batch_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
        *,
        filters: SearchFilters | None = None,
        sort: SearchSort = SearchSort.RELEVANCE,
        facets: bool = False,
        tiers: bool = True,
    ) -> SearchResults:
        """Best matches first (or by date, `sort`); a blank query lists every document that
        passes the filters. `doc_type` and `batch_id` are shorthands for `filters`' own. Within
        a tenant scope (docflow.store.scope) only that tenant's documents match. `facets`:
        also count the matches per document type. `tiers=False`: rank and score by BM25
        alone, without the bonus that puts documents holding all the words, then the phrase,
        first (docflow.search.query): hybrid search fuses these scores with similarities."""
        ...

    @property
    def keeps_tenants(self) -> bool:
        """Whether the index knows each document's tenant (False: an index from before
        tenants, which must not answer a server with several of them)."""
        ...

    def count(self) -> int:
        """How many documents the index holds."""
        ...

    def close(self) -> None:
        """Release the writer lock and files; the handle is unusable afterwards."""
        ...


@dataclass(frozen=True)
class DatabasePool:
    """Connections a database-backed index keeps open (pool_size) and may add (max_overflow)."""

    pool_size: int = 2
    max_overflow: int = 4


def _open_tantivy(path: pathlib.Path, writer: bool, database_url: str | None,
                  pool: DatabasePool) -> SearchIndex:
    from docflow.search.tantivy_index import TantivyIndex

    return TantivyIndex(path, writer=writer)


def _open_postgres(path: pathlib.Path, writer: bool, database_url: str | None,
                   pool: DatabasePool) -> SearchIndex:
    from docflow.search.postgres_index import PostgresIndex

    return PostgresIndex(database_url or "", writer=writer, pool_size=pool.pool_size,
                         max_overflow=pool.max_overflow)


# Backends are imported lazily so one backend's dependencies never load for another.
_BACKENDS: dict[str, Callable[[pathlib.Path, bool, str | None, DatabasePool], SearchIndex]] = {
    "tantivy": _open_tantivy,
    "postgres": _open_postgres,
}


def open_index(backend: str, path: pathlib.Path, writer: bool,
               database_url: str | None = None, pool: DatabasePool | None = None) -> SearchIndex:
    """Open the search index; `writer=True` only in the process that indexes.

    `path` is where a file-based backend (tantivy) keeps its index; `database_url` is the
    database of a database-backed one (postgres), and `pool` sizes its connection pool.
    """
    try:
        opener = _BACKENDS[backend]
    except KeyError:
        valid = ", ".join(sorted(_BACKENDS))
        raise ValueError(f"unknown search backend {backend!r}; valid backends: {valid}") from None
    return opener(pathlib.Path(path), writer, database_url, pool or DatabasePool())


__all__ = [
    "MAX_SEARCH_DEPTH",
    "DatabasePool",
    "IndexLocked",
    "IndexOutdated",
    "ReadOnlyIndex",
    "SearchDepthExceeded",
    "SearchDocument",
    "SearchError",
    "SearchFilters",
    "SearchHit",
    "SearchIndex",
    "SearchResults",
    "SearchSort",
    "check_page",
    "open_index",
]
