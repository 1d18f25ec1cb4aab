"""docflow keeps PostgreSQL's planner statistics fresh where autovacuum does not (this test
server runs without it): the tables analyzed once enough rows changed, then left alone."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import insert, text

from docflow.config import Settings
from docflow.store import Document, DocumentStatus, Store, open_store
from docflow.store.statistics import refresh_statistics
from tests.conftest import empty_postgres


def _changed_since_analyze(store: Store) -> int:
    with store.db.engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT coalesce(max(n_mod_since_analyze), 0) FROM pg_stat_user_tables "
            "WHERE relname = 'documents'")).scalar_one())


@pytest.mark.postgres
def test_tables_with_enough_changes_are_analyzed_once(postgres_url: str,
                                                       settings: Settings) -> None:
    settings.database_url = postgres_url
    empty_postgres(postgres_url)
    store = open_store(settings, migrate=True)
    try:
        with store.db.write() as session:
            session.execute(insert(Document), [
                {"id": uuid.uuid4().hex, "filename": f"f{i}.txt", "sha256": f"{i:064x}",
                 "size": 1, "status": DocumentStatus.COMPLETED} for i in range(2_000)])
        # The server counts changes a moment after they commit: wait for it to see them.
        deadline = time.monotonic() + 60
        while _changed_since_analyze(store) < 2_000:
            assert time.monotonic() < deadline, "the inserts never reached pg_stat"
            time.sleep(0.2)
        assert "documents" in refresh_statistics(store.db)
        with store.db.engine.connect() as conn:
            analyzed = conn.execute(text(
                "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE relname = 'documents'")).scalar_one()
            estimate = conn.execute(text(
                "SELECT reltuples FROM pg_class WHERE relname = 'documents'")).scalar_one()
        assert analyzed and estimate == 2_000
        assert "documents" not in refresh_statistics(store.db)  # nothing changed since
    finally:
        store.db.dispose()


def test_sqlite_is_left_as_it_is(store: Store) -> None:
    assert refresh_statistics(store.db) == []
