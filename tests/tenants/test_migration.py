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


def test_types_and_labels_from_before_0016_are_each_tenants_and_it_goes_down_and_up(
        any_store: Store) -> None:
    db = any_store.db
    cfg = alembic_config(db.url)

    def to(revision: str) -> None:
        with db.engine.connect() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, revision)
            connection.commit()

    to("0015_finished_cursor")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (name, created_at) VALUES ('acme', "
                          "CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO document_types (name, description, keywords, rules, "
                          "builtin, created_at, updated_at) VALUES ('memo', 'A memo.', "
                          "'{\"memo\": 2.0}', '[]', false, CURRENT_TIMESTAMP, "
                          "CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO documents (id, tenant_id, task_id, filename, sha256, "
                          "size, status, attempts, indexed, needs_review, created_at) VALUES "
                          "('d1', 'acme', 't1', 'a.txt', 'x', 1, 'completed', 0, false, false, "
                          "CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO field_labels (document_id, field, doc_type, value, "
                          "updated_at) VALUES ('d1', 'total', 'memo', '1.00', "
                          "CURRENT_TIMESTAMP)"))
        before = conn.execute(text("SELECT count(*) FROM document_types")).scalar_one()
    upgrade_database(db)
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT tenant_id, count(*) FROM document_types GROUP BY "
                                 "tenant_id ORDER BY tenant_id")).all()
        # Every tenant classified with these rows until now: each keeps a copy of them.
        assert [tuple(r) for r in rows] == [("acme", before), ("default", before)]
        assert conn.execute(text("SELECT tenant_id FROM field_labels")).scalar_one() == "acme"
    with db.engine.begin() as conn:  # a name is unique per tenant, not across tenants
        conn.execute(text("DELETE FROM document_types WHERE tenant_id = 'default' AND "
                          "name = 'memo'"))
    to("0015_finished_cursor")
    with db.engine.connect() as conn:  # the default tenant's types are everyone's again
        names = conn.execute(text("SELECT name FROM document_types")).scalars().all()
        assert len(names) == before - 1 and "memo" not in names
        assert "tenant_id" not in {c["name"] for c in inspect(db.engine).get_columns(
            "field_labels")}
    upgrade_database(db)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM document_types WHERE tenant_id = "
                                 "'acme'")).scalar_one() == before - 1
