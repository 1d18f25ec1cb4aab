"""Apply the Alembic migrations that ship inside the package (run on every start)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from docflow.store.counts import ensure_triggers
from docflow.store.db import Database

# Tables the migrations create that no model describes: the postgres search backend's, which it
# reads and writes with SQL of its own. Autogenerate must neither drop nor compare them.
UNMODELLED_TABLES = frozenset({"search_index"})


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name` hook: leave UNMODELLED_TABLES out of autogenerate."""
    return not (type_ == "table" and name in UNMODELLED_TABLES)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "docflow.store:migrations")
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade_database(db: Database) -> None:
    """Bring the schema to the newest revision; safe when many hosts start at once."""
    cfg = alembic_config(db.url)
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # The first process migrates; the others wait here, then find nothing to do.
            connection.execute(text("SELECT pg_advisory_lock(hashtext('docflow.migrate'))"))
            connection.commit()
        try:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
            ensure_triggers(connection)
            connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(hashtext('docflow.migrate'))"))
                connection.commit()
