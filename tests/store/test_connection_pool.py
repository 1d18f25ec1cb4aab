"""Each process keeps its database connections open between sessions, and a forked child (a
Celery pool process) never uses one its parent opened."""

from __future__ import annotations

import json
import os
from typing import Any

from sqlalchemy import event, text

from docflow.store import Store
from docflow.store import documents as docs
from tests.conftest import put


def _connection_identity(store: Store) -> dict[str, Any]:
    """Which raw connection a session used: its object id, and PostgreSQL's backend pid."""
    with store.db.read() as session:
        raw = session.connection().connection.dbapi_connection
        backend = (session.execute(text("SELECT pg_backend_pid()")).scalar_one()
                   if not store.db.is_sqlite else None)
    return {"id": id(raw), "backend": backend}


def test_sessions_reuse_one_open_connection(any_store: Store) -> None:
    opened: list[object] = []

    def count(conn: object, _record: object) -> None:
        opened.append(conn)

    _connection_identity(any_store)  # the migration's own connection is not this test's
    opened.clear()
    event.listen(any_store.db.engine, "connect", count)
    try:
        _connection_identity(any_store)
        for i in range(5):
            with any_store.db.write() as session:
                docs.register_documents(session, [put(any_store, f"note {i}".encode())])
            with any_store.db.read() as session:
                session.execute(text("SELECT 1"))
    finally:
        event.remove(any_store.db.engine, "connect", count)
    assert len(opened) <= 1  # the PRAGMAs (SQLite) ran once, not per session


def test_a_forked_child_opens_its_own_connection(any_store: Store) -> None:
    parent = _connection_identity(any_store)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it used, and whether its write worked
        code = 1
        try:
            os.close(read_end)
            opened: list[int] = []
            event.listen(any_store.db.engine, "connect",
                         lambda conn, _rec: opened.append(id(conn)))
            with any_store.db.write() as session:
                docs.register_documents(session, [put(any_store, b"written by the child")])
            child = _connection_identity(any_store)
            os.write(write_end, json.dumps({**child, "opened": opened}).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = json.loads(pipe.read() or b"{}")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report["opened"] and report["id"] in report["opened"]
    assert report["id"] != parent["id"]
    if not any_store.db.is_sqlite:
        assert report["backend"] != parent["backend"]
    # The parent's side is intact: it reads the child's row over its own connection.
    with any_store.db.read() as session:
        assert session.execute(text("SELECT count(*) FROM documents")).scalar_one() == 1
    after = _connection_identity(any_store)
    if not any_store.db.is_sqlite:
        assert after["backend"] == parent["backend"]  # the child left it open and unused
