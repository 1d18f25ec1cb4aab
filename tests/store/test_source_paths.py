"""Where each document sat in the uploaded folder: kept relative and safe, filterable by folder
on SQLite and PostgreSQL alike (the filter is an index range), and migrated onto old rows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, inspect, select, text

from docflow.config import Settings
from docflow.store import Document, Store, listing, open_store
from docflow.store import documents as docs
from docflow.store.db import Database
from docflow.store.documents import (
    MAX_SOURCE_PATH,
    clean_filename,
    clean_source_path,
    path_prefix_bounds,
)
from docflow.store.migrate import upgrade_database
from docflow.store.scope import DEFAULT_TENANT, tenant_scope
from tests.conftest import POSTGRES_ADMIN_URL, put
from tests.store.conftest import alembic


@pytest.mark.parametrize("sent, kept", [
    ("2019/invoice.pdf", "2019/invoice.pdf"),
    ("invoice.pdf", "invoice.pdf"),
    ("scans\\2019\\q1\\a.pdf", "scans/2019/q1/a.pdf"),
    ("/home/ann/2019/a.pdf", "home/ann/2019/a.pdf"),
    ("C:\\Users\\ann\\a.pdf", "Users/ann/a.pdf"),
    ("//server/share/a.pdf", "server/share/a.pdf"),
    ("../../etc/passwd", "etc/passwd"),
    ("2019/../../../2020/./a.pdf", "2020/a.pdf"),
    ("a//b/ ./ c.pdf", "a/b/c.pdf"),
    ("bad\x1b[31m/x\x00.txt", "bad\ufffd[31m/x\ufffd.txt"),
    ("Mu\u0308ller/Re\u0301sume\u0301.pdf", "M\u00fcller/R\u00e9sum\u00e9.pdf"),  # NFD in, NFC
    ("2019/", "2019/unnamed"),
    ("2019/..", "2019/unnamed"),
    ("100%_done/a b.pdf", "100%_done/a b.pdf"),
])
def test_a_sent_path_is_kept_relative_with_slashes_and_never_above_the_root(
        sent: str, kept: str) -> None:
    assert clean_source_path(sent) == kept
    # The last part is the filename the document shows; cleaning twice changes nothing.
    assert kept.rsplit("/", 1)[-1] == clean_filename(sent)
    assert clean_source_path(kept) == kept


@pytest.mark.parametrize("sent", [None, "", "   "])
def test_no_name_is_no_path(sent: str | None) -> None:
    assert clean_source_path(sent) is None


def test_a_very_long_path_keeps_its_top_folders_and_its_filename() -> None:
    folders = [f"folder-{i:02d}-" + "x" * 30 for i in range(60)]  # 2,400 characters of folders
    kept = clean_source_path("/".join([*folders, "invoice 2019.pdf"]))
    assert kept is not None and len(kept) <= MAX_SOURCE_PATH
    assert kept.startswith(f"{folders[0]}/{folders[1]}/")
    assert kept.endswith("/\N{HORIZONTAL ELLIPSIS}/invoice 2019.pdf")
    assert len(kept) > MAX_SOURCE_PATH - 45  # cut at a folder, not much earlier
    one_long_folder = clean_source_path("y" * 5000 + "/" + "z" * 300 + ".pdf")
    assert one_long_folder == "y" * 255 + "/" + "z" * 255


def test_the_prefix_range_holds_names_past_u_ffff_and_prefixes_ending_in_the_last_character(
        ) -> None:
    assert path_prefix_bounds("2019/") == ("2019/", "20190")
    assert path_prefix_bounds("/2019\\") == ("2019/", "20190")
    low, high = path_prefix_bounds("2019/")
    assert high is not None and low <= "2019/\U0001f600.pdf" < high
    assert path_prefix_bounds("a\U0010ffff") == ("a\U0010ffff", "b")
    assert path_prefix_bounds("\ud7ff") == ("\ud7ff", "\ue000")
    assert path_prefix_bounds("\U0010ffff") == ("\U0010ffff", None)


PATHS = ["2019/invoice.pdf", "2019/q1/invoice.pdf", "2019/\U0001f600 receipt.pdf",
         "2019-old/invoice.pdf", "20190/x.pdf", "2019", "2020/invoice.pdf", "a/x.pdf", "A/x.pdf",
         "100%_done/x.pdf", "1000_done/x.pdf", "root.pdf", "M\u00fcller/a.pdf"]


def _with_paths(store: Store) -> None:
    with store.db.write() as session:
        rows = docs.register_documents(session, [put(store, p.encode(), p) for p in PATHS]
                                       + [put(store, b"legacy", "legacy.pdf")])
        rows[-1].source_path = None  # stored before paths were kept


def _listed(store: Store, prefix: str) -> set[str | None]:
    with store.db.read() as session:
        flt = listing.DocumentFilter(path_prefix=prefix)
        rows = listing.list_documents(session, flt, 100).rows
        assert listing.count_documents(session, flt) == len(rows)
        in_path_order = listing.list_documents(session, flt, 100,
                                               order=listing.DocumentOrder.PATH).rows
    assert sorted(in_path_order, key=lambda r: (r.source_path, r.id)) == in_path_order
    assert {r.id for r in in_path_order} == {r.id for r in rows}
    return {r.source_path for r in rows}


def test_a_folder_prefix_finds_that_folder_and_below_and_nothing_else(store: Store) -> None:
    _with_paths(store)
    in_2019 = {"2019/invoice.pdf", "2019/q1/invoice.pdf", "2019/\U0001f600 receipt.pdf"}
    assert _listed(store, "2019/") == in_2019
    assert _listed(store, "/2019\\") == in_2019
    assert _listed(store, "2019/q1/") == {"2019/q1/invoice.pdf"}
    assert _listed(store, "2019") == in_2019 | {"2019-old/invoice.pdf", "20190/x.pdf", "2019"}
    assert _listed(store, "a/") == {"a/x.pdf"}  # case counts
    assert _listed(store, "100%_") == {"100%_done/x.pdf"}  # no LIKE wildcards
    assert _listed(store, "Mu\u0308ller/") == {"M\u00fcller/a.pdf"}  # NFD asks as NFC
    assert _listed(store, "2021/") == set()
    everything = _listed(store, "/")
    assert None not in everything and len(everything) == len(PATHS)


def test_the_folder_filter_reads_the_source_path_index(store: Store) -> None:
    _with_paths(store)
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(store.db.engine, "before_cursor_execute", capture)
    try:
        with tenant_scope(DEFAULT_TENANT):  # as a request lists: its tenant's folder
            _listed(store, "2019/")
    finally:
        event.remove(store.db.engine, "before_cursor_execute", capture)
    count, params = next((s, p) for s, p in statements if "count(" in s)
    with store.db.engine.connect() as conn:
        if store.db.is_sqlite:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {count}", params).all()
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = conn.exec_driver_sql(f"EXPLAIN {count}", params).all()
    assert "ix_documents_tenant_path" in " ".join(str(row) for row in plan), plan


@pytest.fixture
def icu_store(settings: Settings) -> Iterator[Store]:
    """PostgreSQL on a database whose default collation is ICU en-US, as many servers run
    (the official image's is glibc en_US.utf8): case and punctuation order unlike "C"."""
    import psycopg

    name = f"docflow_test_icu_{os.getpid()}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu "
                      "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
    settings.database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    s = open_store(settings, migrate=True)
    yield s
    s.db.dispose()
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_the_folder_filter_is_exact_on_a_postgres_with_a_language_collation(
        icu_store: Store) -> None:
    with icu_store.db.read() as session:
        collation = session.scalar(text("SELECT datcollate FROM pg_database "
                                        "WHERE datname = current_database()"))
        assert session.scalar(text("SELECT 'a/y' < 'B/x'")), f"not a language order: {collation}"
    _with_paths(icu_store)
    assert _listed(icu_store, "a/") == {"a/x.pdf"}
    assert _listed(icu_store, "2019/") == {"2019/invoice.pdf", "2019/q1/invoice.pdf",
                                           "2019/\U0001f600 receipt.pdf"}


def test_migration_0009_adds_the_indexed_column_and_leaves_old_rows_without_a_path(
        database_url: str) -> None:
    db = Database(database_url)
    try:
        alembic(db, "upgrade", "0008_search_index")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO documents (id, task_id, filename, sha256, size, status, attempts, "
                "indexed, needs_review, created_at) VALUES ('old', 't-old', 'invoice.pdf', "
                "'ab', 1, 'completed', 1, false, false, CURRENT_TIMESTAMP)"))
        alembic(db, "upgrade", "0009_source_path")
        indexes = {ix["name"]: ix["column_names"]
                   for ix in inspect(db.engine).get_indexes("documents")}
        assert indexes["ix_documents_source_path"] == ["source_path"]
        upgrade_database(db)  # 0016 reads paths by (tenant_id, source_path, id) instead
        indexes = {ix["name"]: ix["column_names"]
                   for ix in inspect(db.engine).get_indexes("documents")}
        # ... and 0020 holds created_at too (a folder's page by date picks its keys there)
        assert indexes["ix_documents_tenant_path"] == ["tenant_id", "source_path", "id",
                                                       "created_at"]
        with db.read() as session:
            assert session.scalar(select(Document.source_path).where(Document.id == "old")) \
                is None
        alembic(db, "downgrade", "0008_search_index")
        assert "source_path" not in {c["name"] for c in inspect(db.engine).get_columns(
            "documents")}
        upgrade_database(db)
    finally:
        db.dispose()
