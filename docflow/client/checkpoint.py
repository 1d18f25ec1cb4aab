"""The upload checkpoint: which file (path, size, mtime, SHA-256) went into which batch and
became which document. A SQLite file: each file's batch is committed when it is planned, before
it is sent, and each answer when it comes, so a crash or Ctrl-C loses at most the answers in
flight; a rerun sends those files again, to the same batch (idempotency keys make that safe).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from docflow.client.errors import CheckpointMismatch
from docflow.client.keys import key_scope

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY,
    batch_id TEXT,
    name TEXT NOT NULL,
    assigned INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS files (
    rel TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    key TEXT NOT NULL,
    batch_seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    batch_id TEXT,
    document_id TEXT,
    error_code TEXT,
    error_message TEXT
);
CREATE INDEX IF NOT EXISTS ix_files_state ON files (state);
"""


class FileState:
    PENDING = "pending"  # assigned to a batch and maybe sent; no answer recorded yet
    UPLOADED = "uploaded"  # the server holds it as `document_id`
    FAILED = "failed"  # gave up in an earlier run; the next run tries again


@dataclass
class FileRecord:
    rel: str
    size: int
    mtime_ns: int
    sha256: str
    key: str
    batch_seq: int
    state: str = FileState.PENDING
    batch_id: str | None = None
    document_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass
class BatchRecord:
    seq: int
    batch_id: str | None  # None until the server created it
    name: str
    assigned: int


_FILE_COLUMNS = ("rel, size, mtime_ns, sha256, key, batch_seq, state, batch_id, document_id, "
                 "error_code, error_message")


class Checkpoint:
    """One upload of one folder to one server; reopening it resumes that upload."""

    def __init__(self, path: Path, root: Path, url: str) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # A process crash loses nothing committed; only a power cut could lose the last few.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        root_text = str(root.resolve())
        if not meta:
            meta = {"root": root_text, "url": url.rstrip("/"), "session": uuid.uuid4().hex,
                    "scope": key_scope(root)}
            with self._tx():
                self._db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        elif meta["root"] != root_text or meta["url"] != url.rstrip("/"):
            self._db.close()
            raise CheckpointMismatch(
                f"The checkpoint {path} belongs to an upload of {meta['root']} to "
                f"{meta['url']}; pass another --checkpoint for this one.")
        self.session_id, self.scope = meta["session"], meta["scope"]

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)

    # Files.
    def get(self, rel: str) -> FileRecord | None:
        row = self._db.execute(f"SELECT {_FILE_COLUMNS} FROM files WHERE rel = ?",
                               (rel,)).fetchone()
        return FileRecord(*row) if row else None

    def assign(self, records: Iterable[FileRecord], new_in_batch: dict[int, int]) -> None:
        """Record files as planned for their batch, before any request for them goes out;
        `new_in_batch` counts the files each batch takes on for the first time."""
        with self._tx():
            self._db.executemany(
                f"INSERT OR REPLACE INTO files ({_FILE_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.rel, r.size, r.mtime_ns, r.sha256, r.key, r.batch_seq, FileState.PENDING,
                  None, None, None, None) for r in records])
            self._db.executemany("UPDATE batches SET assigned = assigned + ? WHERE seq = ?",
                                 [(n, seq) for seq, n in new_in_batch.items()])

    def mark_uploaded(self, done: Iterable[tuple[str, str | None, str]]) -> None:
        """(rel, batch_id, document_id) for each file the server confirmed."""
        with self._tx():
            self._db.executemany(
                "UPDATE files SET state = ?, batch_id = ?, document_id = ?, error_code = NULL, "
                "error_message = NULL WHERE rel = ?",
                [(FileState.UPLOADED, b, d, rel) for rel, b, d in done])

    def mark_failed(self, failed: Iterable[tuple[str, str, str]]) -> None:
        """(rel, code, message) for each file given up on in this run."""
        with self._tx():
            self._db.executemany(
                "UPDATE files SET state = ?, error_code = ?, error_message = ? WHERE rel = ?",
                [(FileState.FAILED, c, m, rel) for rel, c, m in failed])

    def touch(self, rel: str, size: int, mtime_ns: int) -> None:
        """The file's timestamp changed but not its bytes."""
        with self._tx():
            self._db.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE rel = ?",
                             (size, mtime_ns, rel))

    def count(self, state: str) -> int:
        return int(self._db.execute("SELECT count(*) FROM files WHERE state = ?",
                                    (state,)).fetchone()[0])

    # Batches.
    def last_batch(self) -> BatchRecord | None:
        row = self._db.execute("SELECT seq, batch_id, name, assigned FROM batches "
                               "ORDER BY seq DESC LIMIT 1").fetchone()
        return BatchRecord(*row) if row else None

    def unfilled_batches(self, size: int) -> list[BatchRecord]:
        """The batches that can take more files, oldest first."""
        rows = self._db.execute("SELECT seq, batch_id, name, assigned FROM batches "
                                "WHERE assigned < ? ORDER BY seq", (size,)).fetchall()
        return [BatchRecord(*row) for row in rows]

    def batch(self, seq: int) -> BatchRecord:
        row = self._db.execute("SELECT seq, batch_id, name, assigned FROM batches "
                               "WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise KeyError(seq)
        return BatchRecord(*row)

    def new_batch(self, name: str) -> BatchRecord:
        last = self.last_batch()
        seq = (last.seq + 1) if last else 1
        with self._tx():
            self._db.execute("INSERT INTO batches (seq, name, assigned) VALUES (?, ?, 0)",
                             (seq, name))
        return BatchRecord(seq, None, name, 0)

    def set_batch_id(self, seq: int, batch_id: str) -> None:
        with self._tx():
            self._db.execute("UPDATE batches SET batch_id = ? WHERE seq = ?", (batch_id, seq))

    def batch_ids(self) -> list[str]:
        """Every batch this upload made, and any other a file of it landed in."""
        rows = self._db.execute(
            "SELECT batch_id FROM (SELECT batch_id, seq AS o FROM batches "
            "WHERE batch_id IS NOT NULL UNION SELECT DISTINCT batch_id, 1e18 AS o FROM files "
            "WHERE batch_id IS NOT NULL) GROUP BY batch_id ORDER BY min(o)").fetchall()
        return [r[0] for r in rows]

    def close(self) -> None:
        self._db.close()


class _Transaction:
    """`with self._tx():` commits on success and rolls back on an error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN")
        return self._db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
