"""The embedded vector index: a usearch HNSW graph file plus a SQLite catalog, in one folder.

    <folder>/catalog.sqlite   passages(key, document_id, doc_type, batch_id, vector, in_graph)
                              (vector: float16, kept for exact filtered search)
    <folder>/graph-<n>.usearch  the HNSW graph of every passage with in_graph = 1

One writer (the housekeeper's indexer) adds passages to the catalog with their vectors (the
"recent" set, searched exactly), and once RECENT_LIMIT of them wait it adds them to the graph,
saves it as the next graph file and switches the catalog to it in one transaction. Readers (API
processes) memory-map the graph the catalog names, keep the recent vectors in memory (reading
only keys they have not seen), and answer from both; a passage is searchable as soon as the
writer's transaction commits. Keys increase and are never reused, so a graph file holds no key
the catalog means otherwise; replaced or deleted documents' keys are dropped from the graph at
the next switch and filtered out of answers until then.

Filters (doc_type, batch_id) are read from the catalog: a filter that leaves fewer than
EXACT_BELOW passages is answered exactly over those passages; a wider one over-fetches from the
graph in proportion to how much it filters out, and fetches deeper until `limit` documents pass.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime  # noqa: F401  first: loaded after usearch 2.26 its import segfaults
from usearch.index import Index

from docflow.search.vectors import (
    EXACT_BELOW,
    VectorDocument,
    VectorIndexError,
    best_per_document,
)
from docflow.store.embeddings import Nearest

log = logging.getLogger(__name__)

CATALOG = "catalog.sqlite"
RECENT_LIMIT = 50_000  # passages searched exactly (~3 ms) before they join the graph
_MERGE_SLICE = 50_000
FETCH_PER_RESULT = 4  # graph hits read per document asked for (documents have many passages)
# HNSW settings: 16 links per node, wide beams (the search beam sets recall; measured).
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 512  # the least search beam; it widens with the graph (see _beam)
GRAPH_DTYPE = "f16"  # measured at 100K: recall as f32, half the file, 2x faster build
_SQL_VARIABLES = 900  # under SQLite's oldest bound-parameter limit
VECTOR_DTYPE = np.dtype("<f2")  # the catalog's copy of each vector, for exact filtered search

_SCHEMA = """
CREATE TABLE IF NOT EXISTS passages (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id TEXT NOT NULL,
    doc_type TEXT,
    batch_id TEXT,
    vector BLOB,
    in_graph INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_passages_document ON passages(document_id);
CREATE INDEX IF NOT EXISTS ix_passages_type ON passages(doc_type, batch_id);
CREATE INDEX IF NOT EXISTS ix_passages_batch ON passages(batch_id);
CREATE INDEX IF NOT EXISTS ix_passages_recent ON passages(in_graph, key);
CREATE TABLE IF NOT EXISTS dropped (key INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class _Recent:
    """A reader's copy of the passages not yet in the graph."""

    graph: str | None = None
    last_key: int = 0
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    document_ids: list[str] | None = None
    doc_types: list[str | None] | None = None
    batch_ids: list[str | None] | None = None
    vectors: np.ndarray | None = None


class UsearchVectors:
    """The vector index in `folder`; `writer=True` in the one process that indexes."""

    def __init__(self, folder: Path, *, writer: bool, model: str, dimension: int = 384,
                 recent_limit: int = RECENT_LIMIT) -> None:
        self.folder = Path(folder)
        self.model = model
        self.dimension = dimension
        self.writer = writer
        self.recent_limit = recent_limit
        self._local = threading.local()
        self._lock = threading.Lock()
        self._graph: Index | None = None
        self._graph_name: str | None = None
        self._recent = _Recent()
        self._generation = 0  # bumped when a reader finds the folder replaced (docflow reindex)
        self._catalog_inode: int | None = None
        self.created = False  # this writer made the folder: documents indexed before need it
        if writer:
            self.created = not (self.folder / CATALOG).is_file()
            self.folder.mkdir(parents=True, exist_ok=True)
            self._connection().executescript(_SCHEMA)  # idempotent; commits on its own
            with self._write() as db:
                self._check_settings(db, create=True)
            self._load_graph(self._graph_file_name(), view=False)
            self._remove_stray_files()

    # -- the catalog -----------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is not None and getattr(self._local, "generation", 0) != self._generation:
            db.close()  # the folder was swapped for a rebuilt one: read the new catalog
            db = None
        if db is None:
            path = self.folder / CATALOG
            if not self.writer and not path.is_file():
                raise VectorIndexError(f"No vector index in {self.folder} yet; the housekeeper "
                                       "writes it once documents with embeddings are indexed.")
            db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if not self.writer:
                db.execute("PRAGMA query_only=ON")
                self._check_settings(db, create=False)
            self._local.db = db
            self._local.generation = self._generation
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _check_settings(self, db: sqlite3.Connection, *, create: bool) -> None:
        wanted = {"model": self.model, "dimension": str(self.dimension)}
        found = dict(db.execute("SELECT name, value FROM settings").fetchall())
        if not found and create:
            db.executemany("INSERT INTO settings VALUES (?, ?)", wanted.items())
            return
        for name, value in wanted.items():
            if found.get(name, value) != value:
                raise VectorIndexError(f"The vector index in {self.folder} holds {name} "
                                       f"{found[name]}, not {value}: run `docflow reindex`.")

    def _graph_file_name(self) -> str | None:
        row = self._connection().execute(
            "SELECT value FROM settings WHERE name = 'graph'").fetchone()
        return row[0] if row else None

    # -- the graph ---------------------------------------------------------------------------

    def _new_graph(self) -> Index:
        return Index(ndim=self.dimension, metric="ip", dtype=GRAPH_DTYPE,
                     connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD,
                     expansion_search=EXPANSION_SEARCH)

    def _load_graph(self, name: str | None, *, view: bool) -> None:
        if name is None:
            self._graph = self._new_graph() if not view else None
        else:
            graph = self._new_graph()
            path = self.folder / name
            graph.view(str(path)) if view else graph.load(str(path))
            self._graph = graph
        self._graph_name = name

    def _remove_stray_files(self) -> None:
        """Graph files a crash left behind (saved, never switched to) or an old one."""
        for path in self.folder.glob("graph-*.usearch"):
            if path.name != self._graph_name:
                path.unlink(missing_ok=True)

    def _merge_recent(self, db: sqlite3.Connection) -> None:
        """Move the recent passages into the graph and switch readers to the new file."""
        try:
            self._grow_and_switch(db)
        except BaseException:
            self._load_graph(self._graph_name, view=False)  # the catalog rolls back: so do we
            raise

    def _grow_and_switch(self, db: sqlite3.Connection) -> None:
        assert self._graph is not None
        dropped = [row[0] for row in db.execute("SELECT key FROM dropped")]
        if dropped:
            self._graph.remove(np.array(dropped, dtype=np.uint64))
        after = 0
        while True:  # by slices: a rebuild's millions of passages never sit in memory at once
            rows = db.execute("SELECT key, vector FROM passages WHERE in_graph = 0 AND key > ? "
                              "ORDER BY key LIMIT ?", (after, _MERGE_SLICE)).fetchall()
            if not rows:
                break
            keys = np.array([row[0] for row in rows], dtype=np.uint64)
            self._graph.add(keys, _matrix([row[1] for row in rows], self.dimension))
            after = rows[-1][0]
        number = int((self._graph_name or "graph-0.usearch")[6:-8]) + 1
        name = f"graph-{number}.usearch"
        building = self.folder / f".{name}.building"
        self._graph.save(str(building))
        os.replace(building, self.folder / name)
        db.execute("INSERT OR REPLACE INTO settings VALUES ('graph', ?)", (name,))
        db.execute("UPDATE passages SET in_graph = 1 WHERE in_graph = 0")
        db.execute("DELETE FROM dropped")
        old, self._graph_name = self._graph_name, name
        if old:
            # Readers that mapped the old file keep reading it until they switch (POSIX).
            (self.folder / old).unlink(missing_ok=True)
        log.info("vector graph %s: %d passages", name, len(self._graph))

    # -- writing -----------------------------------------------------------------------------

    def index(self, docs: Sequence[VectorDocument]) -> None:
        if not self.writer:
            raise VectorIndexError("This vector index was opened read-only.")
        if not docs:
            return
        with self._write() as db:
            self._forget(db, [d.id for d in docs])
            db.executemany(
                "INSERT INTO passages(document_id, doc_type, batch_id, vector) VALUES (?,?,?,?)",
                [(d.id, d.doc_type, d.batch_id, np.asarray(row, dtype=VECTOR_DTYPE).tobytes())
                 for d in docs for row in d.vectors])
            waiting = db.execute("SELECT count(*) FROM passages WHERE in_graph = 0").fetchone()
            if waiting[0] >= self.recent_limit:
                self._merge_recent(db)

    def delete(self, ids: Sequence[str]) -> None:
        with self._write() as db:
            self._forget(db, list(ids))

    def _forget(self, db: sqlite3.Connection, ids: list[str]) -> None:
        for start in range(0, len(ids), _SQL_VARIABLES):
            part = ids[start : start + _SQL_VARIABLES]
            marks = ",".join("?" * len(part))
            db.execute("INSERT OR IGNORE INTO dropped SELECT key FROM passages "
                       f"WHERE in_graph = 1 AND document_id IN ({marks})", part)
            db.execute(f"DELETE FROM passages WHERE document_id IN ({marks})", part)

    def flush(self) -> None:
        """Move every recent passage into the graph now (a rebuild ends with it)."""
        with self._write() as db:
            self._merge_recent(db)

    # -- reading -----------------------------------------------------------------------------

    def _refresh(self) -> tuple[Index | None, _Recent]:
        for attempt in range(3):
            try:
                return self._read_changes()
            except FileNotFoundError:  # the writer switched graphs as we read the old name
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _read_changes(self) -> tuple[Index | None, _Recent]:
        """The current graph and recent passages, reading only what changed since last time."""
        with self._lock:
            if not self.writer:
                self._notice_swap()
            db = self._connection()
            db.execute("BEGIN")  # one snapshot: the graph name and the recent rows agree
            try:
                name = self._graph_file_name()
                if not self.writer and name != self._graph_name:
                    self._load_graph(name, view=True)
                recent = self._recent
                if recent.graph != name:
                    recent = _Recent(graph=name)
                waiting = db.execute(
                    "SELECT count(*) FROM passages WHERE in_graph = 0").fetchone()[0]
                rows = db.execute(
                    "SELECT key, document_id, doc_type, batch_id, vector FROM passages "
                    "WHERE in_graph = 0 AND key > ? ORDER BY key", (recent.last_key,)).fetchall()
                if waiting != len(recent.keys) + len(rows):  # some were replaced: read all
                    recent = _Recent(graph=name)
                    rows = db.execute(
                        "SELECT key, document_id, doc_type, batch_id, vector FROM passages "
                        "WHERE in_graph = 0 ORDER BY key").fetchall()
            finally:
                db.execute("COMMIT")
            if rows or recent.vectors is None:
                new = _matrix([r[4] for r in rows], self.dimension)
                recent = _Recent(
                    graph=name,
                    last_key=rows[-1][0] if rows else recent.last_key,
                    keys=np.concatenate([recent.keys, [r[0] for r in rows]]).astype(np.int64),
                    document_ids=(recent.document_ids or []) + [r[1] for r in rows],
                    doc_types=(recent.doc_types or []) + [r[2] for r in rows],
                    batch_ids=(recent.batch_ids or []) + [r[3] for r in rows],
                    vectors=new if recent.vectors is None else np.concatenate(
                        [recent.vectors, new]))
            self._recent = recent
            return self._graph, recent

    def _notice_swap(self) -> None:
        try:
            inode = os.stat(self.folder / CATALOG).st_ino
        except FileNotFoundError:
            return  # mid-swap, or not written yet: keep what we have
        if self._catalog_inode is not None and inode != self._catalog_inode:
            self._generation += 1
            self._graph, self._graph_name, self._recent = None, None, _Recent()
        self._catalog_inode = inode

    def search(self, query: np.ndarray, *, doc_type: str | None = None,
               batch_id: str | None = None, limit: int = 20,
               min_similarity: float = 0.0) -> Nearest:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = np.asarray(query, dtype=np.float32)
        graph, recent = self._refresh()
        where, params = _filters(doc_type, batch_id)
        db = self._connection()
        if where:
            # Counting stops past the bound: a filter on a large type costs no more than that.
            candidates = db.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM passages WHERE {where} LIMIT ?)",
                [*params, EXACT_BELOW + 1]).fetchone()[0]
            if candidates <= EXACT_BELOW:
                return self._exact(graph, query, where, params, limit, min_similarity)
        ids, scores = _recent_scores(recent, query, doc_type, batch_id)
        in_graph = len(graph) if graph is not None else 0
        # A filter passes some of the graph's answers: start deeper (it doubles down from there).
        fetch = min(in_graph, limit * FETCH_PER_RESULT * (4 if where else 1))
        while True:
            graph_ids: list[str] = []
            graph_scores = np.zeros(0, dtype=np.float32)
            if fetch:
                graph.expansion_search = _beam(in_graph)  # type: ignore[union-attr]
                found = graph.search(query, fetch)  # type: ignore[union-attr]
                similarity = 1.0 - np.asarray(found.distances, dtype=np.float32)
                keys = found.keys.tolist()
                live = self._documents_of(db, keys, where, params)
                keep = [i for i, key in enumerate(keys) if key in live]
                graph_ids = [live[keys[i]] for i in keep]
                graph_scores = similarity[keep]
            nearest = best_per_document(ids + graph_ids, np.concatenate([scores, graph_scores]),
                                        limit, min_similarity)
            exhausted = fetch >= in_graph or (
                fetch and float(similarity[-1]) < min_similarity)  # the rest is farther still
            if len(nearest.neighbours) >= limit or exhausted:
                return nearest
            # Deeper: most hits were other documents' passages or filtered out.
            fetch = min(in_graph, fetch * 4)

    def _documents_of(self, db: sqlite3.Connection, keys: list[int], where: str,
                      params: list[str]) -> dict[int, str]:
        """The live passages among `keys` that pass the filters, with their document."""
        live: dict[int, str] = {}
        for start in range(0, len(keys), _SQL_VARIABLES):
            part = keys[start : start + _SQL_VARIABLES]
            sql = (f"SELECT key, document_id FROM passages WHERE in_graph = 1 AND key IN "
                   f"({','.join('?' * len(part))})" + (f" AND {where}" if where else ""))
            live.update(db.execute(sql, [*part, *params]).fetchall())
        return live

    def _exact(self, graph: Index | None, query: np.ndarray, where: str, params: list[str],
               limit: int, min_similarity: float) -> Nearest:
        """Every passage that passes the filters compared with the query."""
        rows = self._connection().execute(
            f"SELECT key, document_id, vector FROM passages WHERE {where}", params).fetchall()
        del graph  # the catalog keeps every passage's vector: a graph lookup per key is slower
        ids = [r[1] for r in rows]
        matrix = _matrix([r[2] for r in rows], self.dimension)
        return best_per_document(ids, matrix @ query, limit, min_similarity)

    def count(self) -> int:
        return self._connection().execute(
            "SELECT count(DISTINCT document_id) FROM passages").fetchone()[0]

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
        self._graph = None


def _beam(passages: int) -> int:
    """The HNSW search beam for a graph this big: recall@10 (bench/search_scale.py, clustered
    MiniLM-like vectors) fell from 0.98 at 40K passages to 0.94 at 150K and 0.84 at 450K with
    a beam of 512; 1,024 gave 0.99 at 150K. Time grows with the beam, ~20 ms p95 at 2,000."""
    return max(EXPANSION_SEARCH, min(4096, passages // 200))


def _matrix(blobs: list[bytes], dimension: int) -> np.ndarray:
    vectors = np.frombuffer(b"".join(blobs), dtype=VECTOR_DTYPE)
    return vectors.reshape(len(blobs), dimension).astype(np.float32)


def _filters(doc_type: str | None, batch_id: str | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    if doc_type is not None:
        clauses.append("doc_type = ?")
        params.append(doc_type)
    if batch_id is not None:
        clauses.append("batch_id = ?")
        params.append(batch_id)
    return " AND ".join(clauses), params


def _recent_scores(recent: _Recent, query: np.ndarray, doc_type: str | None,
                   batch_id: str | None) -> tuple[list[str], np.ndarray]:
    if recent.vectors is None or not len(recent.keys):
        return [], np.zeros(0, dtype=np.float32)
    chosen = [i for i in range(len(recent.keys))
              if (doc_type is None or recent.doc_types[i] == doc_type)  # type: ignore[index]
              and (batch_id is None or recent.batch_ids[i] == batch_id)]  # type: ignore[index]
    if len(chosen) == len(recent.keys):
        return list(recent.document_ids or []), recent.vectors @ query
    return ([recent.document_ids[i] for i in chosen],  # type: ignore[index]
            recent.vectors[chosen] @ query)
