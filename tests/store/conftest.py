from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command

from docflow.store import Store
from docflow.store.db import Database
from docflow.store.migrate import alembic_config
from tests.conftest import empty_postgres


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every store test runs on SQLite and on PostgreSQL."""
    return any_store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend, for tests that walk the migrations themselves."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrate.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return url


def alembic(db: Database, action: str, revision: str) -> None:
    """Run one Alembic command ("upgrade", "downgrade") to `revision` on `db`."""
    with db.engine.begin() as conn:
        cfg = alembic_config(db.url)
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)
