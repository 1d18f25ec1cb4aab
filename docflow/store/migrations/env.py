"""Alembic environment: runs on the connection docflow hands it (see store/migrate.py)."""

from alembic import context
from sqlalchemy import create_engine

from docflow.store.migrate import include_name
from docflow.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # the `alembic` command line, e.g. for `alembic revision`
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.connect() as connection:
            _run(connection)
        return
    _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
