"""Migration 0014_tenants: rows written before it belong to the default tenant; it goes down
and up again, on both databases."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from docflow.store import Store
from docflow.store.migrate import alembic_config, upgrade_database


def test_rows_from_before_tenants_belong_to_the_default_tenant(any_store: Store) -> None:
    db = any_store.db
    cfg = alembic_config(db.url)
    with db.engine.connect() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0013_passages")
        connection.commit()
    assert "tenants" not in inspect(db.engine).get_table_names()
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO batches (id, source, document_count, created_at) "
                          "VALUES ('b1', 'upload', 1, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO documents (id, batch_id, task_id, filename, sha256, size, "
                          "status, attempts, indexed, needs_review, created_at) VALUES ('d1', "
                          "'b1', 't1', 'a.txt', 'x', 1, 'queued', 0, false, false, "
                          "CURRENT_TIMESTAMP)"))
    upgrade_database(db)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT tenant_id FROM documents")).scalar_one() == "default"
        assert conn.execute(text("SELECT tenant_id FROM batches")).scalar_one() == "default"
        assert conn.execute(text("SELECT name FROM tenants")).scalars().all() == ["default"]
