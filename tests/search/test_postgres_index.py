"""The postgres backend's table is the migrations' (0008_search_index), and its connection pool
is sized by the settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text

from docflow.config import Settings
from docflow.search import SearchDocument, open_index
from docflow.search.postgres_index import IndexNotMigrated, PostgresIndex
from docflow.store import Database, upgrade_database
from docflow.store.migrate import alembic_config
from tests.conftest import empty_postgres

pytestmark = pytest.mark.postgres

# What docflow before migration 0008 created on first use of the backend.
OLD_BACKEND_DDL = [
    """CREATE TABLE search_index (id text PRIMARY KEY, filename text NOT NULL, doc_type text,
        batch_id text, body text NOT NULL, tsv tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('english',
                regexp_replace(filename, '[^[:alnum:]]+', ' ', 'g')), 'A') ||
            setweight(to_tsvector('english', left(body, 1000000)), 'B')) STORED)""",
    "CREATE INDEX search_index_tsv ON search_index USING gin (tsv)",
    "CREATE INDEX search_index_doc_type ON search_index (doc_type)",
    "CREATE INDEX search_index_batch_id ON search_index (batch_id)",
]


@pytest.fixture
def empty_database(postgres_url: str) -> str:
    empty_postgres(postgres_url)
    return postgres_url


def _migrate(url: str, revision: str = "head") -> None:
    db = Database(url)
    try:
        if revision == "head":
            upgrade_database(db)
        else:
            with db.engine.begin() as conn:
                cfg = alembic_config(url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
    finally:
        db.dispose()


def _search_table(engine: Engine) -> tuple[bool, set[str]]:
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT to_regclass('search_index')")).scalar() is not None
        indexes = set(conn.execute(text(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'search_index'")).scalars())
    return exists, indexes


def test_the_search_table_and_its_gin_index_exist_right_after_migration(
        empty_database: str) -> None:
    _migrate(empty_database)
    engine = create_engine(empty_database)
    try:
        exists, indexes = _search_table(engine)
    finally:
        engine.dispose()
    assert exists
    assert any("USING gin (tsv)" in d for d in indexes), indexes


def test_a_database_whose_search_table_came_before_the_migration_keeps_it(
        empty_database: str) -> None:
    """Created by the backend itself (docflow before 0008); the migration adopts it as it is."""
    _migrate(empty_database, "0006_embeddings")
    engine = create_engine(empty_database)
    try:
        with engine.begin() as conn:
            for statement in OLD_BACKEND_DDL:
                conn.execute(text(statement))
            conn.execute(text("INSERT INTO search_index (id, filename, body) "
                              "VALUES ('old', 'old.txt', 'indexed before the upgrade')"))
        _migrate(empty_database)
        with engine.connect() as conn:
            head = ScriptDirectory.from_config(alembic_config(empty_database)).get_current_head()
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    finally:
        engine.dispose()
    with open_index("postgres", Path("unused"), writer=True, database_url=empty_database) as idx:
        assert [h.id for h in idx.search("upgrade").hits] == ["old"]
        idx.index([SearchDocument("new", "new.txt", None, None, "indexed after the upgrade")])
        assert {h.id for h in idx.search("indexed").hits} == {"old", "new"}


def test_an_unmigrated_database_is_named_as_the_cause(empty_database: str) -> None:
    with pytest.raises(IndexNotMigrated, match="docflow migrate"):
        PostgresIndex(empty_database, writer=False)


def test_the_search_pool_is_sized_by_the_settings(empty_database: str, tmp_path: Path) -> None:
    _migrate(empty_database)
    settings = Settings(data_dir=tmp_path, database_url=empty_database, search="postgres",
                        search_pool_size=3, search_max_overflow=7)
    index = open_index(settings.search, settings.index_dir, writer=False,
                       database_url=settings.sqlalchemy_url, pool=settings.search_pool)
    try:
        assert isinstance(index, PostgresIndex)
        pool = index._eng().pool
        assert (pool.size(), pool._max_overflow) == (3, 7)  # type: ignore[attr-defined]
    finally:
        index.close()


def test_the_api_searches_through_a_pool_of_the_configured_size(
        empty_database: str, settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from docflow.api.app import create_app

    settings.database_url, settings.search = empty_database, "postgres"
    settings.search_pool_size, settings.search_max_overflow = 1, 3
    with TestClient(create_app(settings, configure_logs=False)) as client:
        reply = client.get("/api/search", params={"q": "anything"})
        assert reply.status_code == 200 and reply.json()["total"] == 0
        pool = client.app.state.docflow.search_index()._eng().pool  # type: ignore[attr-defined]
        assert (pool.size(), pool._max_overflow) == (1, 3)
