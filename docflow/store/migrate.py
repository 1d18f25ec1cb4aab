"""Apply the Alembic migrations that ship inside the package (run on every start)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from docflow.store.db import Database


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "docflow.store:migrations")
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade_database(db: Database) -> None:
    cfg = alembic_config(db.url)
    with db.engine.connect() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
        connection.commit()
