"""Migration 0012_auth adds the four tables, and goes down and up again, on both databases."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from docflow.store import Store
from docflow.store.migrate import alembic_config, upgrade_database

AUTH_TABLES = {"api_tokens", "users", "login_sessions", "audit_log"}


def test_the_auth_tables_come_and_go_with_their_migration(any_store: Store) -> None:
    db = any_store.db
    assert set(inspect(db.engine).get_table_names()) >= AUTH_TABLES
    cfg = alembic_config(db.url)
    with db.engine.connect() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0011_warnings")
        connection.commit()
    assert not AUTH_TABLES & set(inspect(db.engine).get_table_names())
    upgrade_database(db)
    assert set(inspect(db.engine).get_table_names()) >= AUTH_TABLES
