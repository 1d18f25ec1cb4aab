"""Engines and sessions. SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE` for writes.

Each process keeps a pool of open connections (a new SQLite connection and its PRAGMAs cost more
than a small document's queries). A pool never crosses a fork: before a fork every idle SQLite
connection is closed, and the child drops whatever it inherited without touching it, then opens
its own (`_after_fork_in_child`).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

SQLITE_BUSY_TIMEOUT_MS = 60_000


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how each transaction starts.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the lock up front, so two read-modify-write transactions never
        # deadlock into "database is locked"; readers stay concurrent under WAL.
        immediate = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class _ForkSafePool:
    """Every engine of this process, so a fork can leave their connections behind.

    The parent closes its idle SQLite connections before forking: an SQLite connection open in
    two processes confuses SQLite's per-process lock table (the child would believe it holds the
    parent's locks). The child drops the pools it inherited without closing them (closing would
    act on the parent's file handles and sockets) and keeps the connection objects referenced,
    so the garbage collector never closes them either.
    """

    def __init__(self) -> None:
        self._engines: weakref.WeakSet[Engine] = weakref.WeakSet()
        self._open: weakref.WeakKeyDictionary[Engine, dict[int, Any]] = (
            weakref.WeakKeyDictionary())
        self._lock = threading.Lock()
        self._inherited: list[Any] = []  # never closed in this process; see the class note
        os.register_at_fork(before=self._before_fork, after_in_child=self._after_fork_in_child)

    def track(self, engine: Engine) -> None:
        with self._lock:
            self._engines.add(engine)
            self._open[engine] = {}

        @event.listens_for(engine, "connect")
        def _opened(dbapi_conn: Any, _record: Any) -> None:
            with self._lock:
                self._open.setdefault(engine, {})[id(dbapi_conn)] = dbapi_conn

        @event.listens_for(engine, "close")
        def _closed(dbapi_conn: Any, _record: Any) -> None:
            with self._lock:
                self._open.get(engine, {}).pop(id(dbapi_conn), None)

        @event.listens_for(engine, "close_detached")
        def _closed_detached(dbapi_conn: Any) -> None:
            with self._lock:
                self._open.get(engine, {}).pop(id(dbapi_conn), None)

    def _before_fork(self) -> None:
        for engine in list(self._engines):
            if engine.dialect.name == "sqlite":
                # Closes the idle ones; one in use by another thread stays (see the child).
                engine.dispose()

    def _after_fork_in_child(self) -> None:
        # The lock may have been held by another thread at the fork: a fresh one is free.
        self._lock = threading.Lock()
        for engine in list(self._engines):
            self._inherited.extend(self._open.get(engine, {}).values())
            self._open[engine] = {}
            engine.dispose(close=False)


_fork_safe = _ForkSafePool()


def make_engine(url: str, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, poolclass=QueuePool, pool_size=pool_size,
                               max_overflow=max_overflow,
                               connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                             "check_same_thread": False})
        _configure_sqlite(engine)
    else:
        engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow,
                               pool_pre_ping=True)
    _fork_safe.track(engine)
    return engine


class Database:
    """One engine and two kinds of session: reads, and writes that lock at their start."""

    def __init__(self, url: str, pool_size: int = 5, max_overflow: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(self.engine.execution_options(immediate=True),
                                    expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any error."""
        with self._writer() as session, session.begin():
            yield session

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """Hold a named lock across hosts for a block; yields False when another holder has it.

        PostgreSQL: a session advisory lock. SQLite lives on one host, where BEGIN IMMEDIATE
        already serialises every write, so the block always runs.
        """
        if self.is_sqlite:
            yield True
            return
        with self.engine.connect() as conn:
            key = conn.execute(text("SELECT hashtext(:n)"), {"n": name}).scalar_one()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one()
            conn.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()
