"""Every search backend runs the same contract tests; add a backend name here to run them on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from docflow.search import SearchIndex, open_index
from docflow.store import Database, upgrade_database
from tests.conftest import empty_postgres

BACKENDS = ["tantivy", pytest.param("postgres", marks=pytest.mark.postgres)]

OpenIndex = Callable[..., SearchIndex]


@pytest.fixture(params=BACKENDS)
def open_search_index(request: pytest.FixtureRequest, tmp_path) -> Iterator[OpenIndex]:
    """Opens handles on one fresh index: `open_search_index(writer=True)` is the indexer."""
    handles: list[SearchIndex] = []
    database_url = None
    if request.param == "postgres":
        database_url = request.getfixturevalue("postgres_url")
        empty_postgres(database_url)
        migrated = Database(database_url)
        upgrade_database(migrated)  # the migrations create the search table, as in production
        migrated.dispose()

    def _open(*, writer: bool) -> SearchIndex:
        handle = open_index(request.param, tmp_path / "search", writer=writer,
                            database_url=database_url)
        handles.append(handle)
        return handle

    yield _open
    # Readers first: the writer is the one that holds the lock.
    for handle in reversed(handles):
        handle.close()

