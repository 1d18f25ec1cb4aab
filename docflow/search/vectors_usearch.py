"""The embedded vector index: one usearch HNSW graph file per tenant plus a SQLite catalog, in
one folder.

    <folder>/catalog.sqlite   passages(key, document_id, tenant, doc_type, batch_id, vector,
                              in_graph) (vector: float16, kept for exact filtered search)
    <folder>/graph-<n>.usearch  one tenant's HNSW graph: its passages with in_graph = 1 (the
                              catalog's setting "graph:<tenant>" names the file)

A tenant's search walks its own graph only, so it never meets another tenant's passages, and a
small tenant beside a big one is searched as deep as if it were alone: one shared graph,
filtered by tenant, would throw most of what it returns away and starve the answer. A search
outside any tenant's scope (the CLI, the system) walks every graph and merges.

One writer (the housekeeper's indexer) adds passages to the catalog with their vectors (the
"recent" set, searched exactly), and once RECENT_LIMIT of them wait it adds them to their
tenants' graphs, saves each graph it changed as a new file and switches the catalog to them in
one transaction. Readers (API processes) memory-map the graphs the catalog names, keep the
recent vectors in memory (reading only keys they have not seen), and answer from both; a
passage is searchable as soon as the writer's transaction commits. Keys increase and are never
reused, so a graph file holds no key the catalog means otherwise; replaced or deleted
documents' keys are dropped from their tenant's graph at the next switch and filtered out of
answers until then.

Filters (tenant, doc_type, batch_id) are read from the catalog: a filter that leaves fewer than
EXACT_BELOW passages is answered exactly over those passages; a type or batch filter over more
over-fetches from the graph in proportion to how much it filters out, and fetches deeper until
`limit` documents pass. Every hit from a graph is checked against the catalog's tenant as well.

A catalog written before tenants (no tenant column) is upgraded by its writer: the columns are
added at once, and `upgrade_tenants` (the housekeeper, with each document's tenant from the
store) fills them and rebuilds the graphs per tenant in one transaction. Until it commits,
readers decline every search (VectorIndexError), and search compares the stored vectors one by
one through the store's tenant filter.
"""

from __future__ import annotations

import itertools
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
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
    scope_tenant,
)
from docflow.store.embeddings import Nearest

log = logging.getLogger(__name__)

CATALOG = "catalog.sqlite"
RECENT_LIMIT = 50_000  # passages searched exactly (~3 ms) before they join the graphs
_MERGE_SLICE = 50_000
FETCH_PER_RESULT = 4  # graph hits read per document asked for (documents have many passages)
# HNSW settings: 16 links per node, wide beams (the search beam sets recall; measured).
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 512  # the least search beam; it widens with the graph (see _beam)
GRAPH_DTYPE = "f16"  # measured at 100K: recall as f32, half the file, 2x faster build
_SQL_VARIABLES = 900  # under SQLite's oldest bound-parameter limit
VECTOR_DTYPE = np.dtype("<f2")  # the catalog's copy of each vector, for exact filtered search
GRAPH_OF = "graph:"  # the setting naming a tenant's graph file is "graph:<tenant>"

WITHOUT_TENANTS = ("The vector index was written by an older docflow, without the tenant of "
                   "each passage; the housekeeper upgrades it when it starts.")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS passages (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id TEXT NOT NULL,
    doc_type TEXT,
    batch_id TEXT,
    vector BLOB,
    in_graph INTEGER NOT NULL DEFAULT 0,
    tenant TEXT  -- NULL only in a catalog from before tenants, until upgrade_tenants
);
CREATE INDEX IF NOT EXISTS ix_passages_document ON passages(document_id);
CREATE INDEX IF NOT EXISTS ix_passages_type ON passages(doc_type, batch_id);
CREATE INDEX IF NOT EXISTS ix_passages_batch ON passages(batch_id);
CREATE INDEX IF NOT EXISTS ix_passages_tenant_type ON passages(tenant, doc_type, batch_id);
CREATE INDEX IF NOT EXISTS ix_passages_tenant_batch ON passages(tenant, batch_id);
CREATE INDEX IF NOT EXISTS ix_passages_recent ON passages(in_graph, key);
CREATE TABLE IF NOT EXISTS dropped (key INTEGER PRIMARY KEY, tenant TEXT);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _strings(values: Sequence[str | None] = ()) -> np.ndarray:
    return np.array(values, dtype=object)


@dataclass
class _Recent:
    """A reader's copy of the passages not yet in a graph (one entry per passage)."""

    graph: str | None = None  # the catalog's graph_number these were read against
    last_key: int = 0
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    document_ids: np.ndarray = field(default_factory=_strings)
    tenants: np.ndarray = field(default_factory=_strings)
    doc_types: np.ndarray = field(default_factory=_strings)
    batch_ids: np.ndarray = field(default_factory=_strings)
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
        self._graphs: dict[str, Index] = {}  # tenant -> its graph
        self._graph_names: dict[str, str] = {}  # tenant -> the file its graph was read from
        self._recent = _Recent()
        self._generation = 0  # bumped when a reader finds the folder replaced (docflow reindex)
        self._catalog_inode: int | None = None
        self.created = False  # this writer made the folder: documents indexed before need it
        self.lacks_tenants = False  # a catalog from before tenants, until upgrade_tenants
        if writer:
            self.created = not (self.folder / CATALOG).is_file()
            self.folder.mkdir(parents=True, exist_ok=True)
            _add_tenant_columns(self._connection())
            self._connection().executescript(_SCHEMA)  # idempotent; commits on its own
            with self._write() as db:
                self._check_settings(db, create=True)
                settings = _settings(db)
            self.lacks_tenants = "tenants" not in settings
            self._load_graphs(_graph_files(settings), view=False)
            self._remove_stray_files(keep=settings.get("graph"))

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
        found = _settings(db)
        if not found and create:
            db.executemany("INSERT INTO settings VALUES (?, ?)",
                           [*wanted.items(), ("tenants", "1"), ("graph_number", "0")])
            return
        for name, value in wanted.items():
            if found.get(name, value) != value:
                raise VectorIndexError(f"The vector index in {self.folder} holds {name} "
                                       f"{found[name]}, not {value}: run `docflow reindex`.")

    # -- the graphs --------------------------------------------------------------------------

    def _new_graph(self) -> Index:
        return Index(ndim=self.dimension, metric="ip", dtype=GRAPH_DTYPE,
                     connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD,
                     expansion_search=EXPANSION_SEARCH)

    def _load_graphs(self, files: dict[str, str], *, view: bool) -> None:
        """Read the graph files named (tenant -> file), keeping those already read."""
        graphs = {}
        for tenant, name in files.items():
            if self._graph_names.get(tenant) == name and tenant in self._graphs:
                graphs[tenant] = self._graphs[tenant]
                continue
            graph = self._new_graph()
            path = str(self.folder / name)
            graph.view(path) if view else graph.load(path)
            graphs[tenant] = graph
        self._graphs, self._graph_names = graphs, dict(files)

    def _remove_stray_files(self, keep: str | None = None) -> None:
        """Graph files a crash left behind (saved, never switched to) or old ones."""
        wanted = {*self._graph_names.values(), keep}
        for path in self.folder.glob("graph-*.usearch"):
            if path.name not in wanted:
                path.unlink(missing_ok=True)

    def _merge_recent(self, db: sqlite3.Connection) -> None:
        """Move the recent passages into their tenants' graphs and switch readers to the new
        files."""
        try:
            self._grow_and_switch(db)
        except BaseException:
            names, self._graphs, self._graph_names = self._graph_names, {}, {}
            self._load_graphs(names, view=False)  # the catalog rolls back: so do we
            raise

    def _grow_and_switch(self, db: sqlite3.Connection) -> None:
        changed: dict[str, Index] = {}

        def graph_of(tenant: str) -> Index:
            if tenant not in changed:
                changed[tenant] = self._graphs.get(tenant) or self._new_graph()
            return changed[tenant]

        dropped = db.execute("SELECT tenant, key FROM dropped ORDER BY tenant").fetchall()
        for tenant, rows in itertools.groupby(dropped, key=lambda row: row[0]):
            if tenant in self._graphs:
                graph_of(tenant).remove(np.array([r[1] for r in rows], dtype=np.uint64))
        after = 0
        while True:  # by slices: a rebuild's millions of passages never sit in memory at once
            rows = db.execute("SELECT key, tenant, vector FROM passages WHERE in_graph = 0 "
                              "AND key > ? ORDER BY key LIMIT ?",
                              (after, _MERGE_SLICE)).fetchall()
            if not rows:
                break
            for tenant, part in itertools.groupby(sorted(rows, key=lambda r: r[1]),
                                                  key=lambda row: row[1]):
                part = list(part)
                graph_of(tenant).add(np.array([r[0] for r in part], dtype=np.uint64),
                                     _matrix([r[2] for r in part], self.dimension))
            after = rows[-1][0]
        number = int(_settings(db).get("graph_number", "0"))
        saved: dict[str, str] = {}
        for tenant, graph in changed.items():
            number += 1
            name = f"graph-{number}.usearch"
            building = self.folder / f".{name}.building"
            graph.save(str(building))
            os.replace(building, self.folder / name)
            saved[tenant] = name
        db.executemany("INSERT OR REPLACE INTO settings VALUES (?, ?)",
                       [*((GRAPH_OF + t, n) for t, n in saved.items()),
                        ("graph_number", str(number))])
        db.execute("UPDATE passages SET in_graph = 1 WHERE in_graph = 0")
        db.execute("DELETE FROM dropped")
        old = [self._graph_names[t] for t in saved if t in self._graph_names]
        self._graphs = {**self._graphs, **changed}
        self._graph_names = {**self._graph_names, **saved}
        for name in old:
            # Readers that mapped the old file keep reading it until they switch (POSIX).
            (self.folder / name).unlink(missing_ok=True)
        for tenant, name in saved.items():
            log.info("vector graph %s of tenant %s: %d passages", name, tenant,
                     len(changed[tenant]))

    # -- writing -----------------------------------------------------------------------------

    def index(self, docs: Sequence[VectorDocument]) -> None:
        if not self.writer:
            raise VectorIndexError("This vector index was opened read-only.")
        if self.lacks_tenants:
            raise VectorIndexError(WITHOUT_TENANTS)
        if not docs:
            return
        with self._write() as db:
            self._forget(db, [d.id for d in docs])
            db.executemany(
                "INSERT INTO passages(document_id, tenant, doc_type, batch_id, vector) "
                "VALUES (?,?,?,?,?)",
                [(d.id, d.tenant, d.doc_type, d.batch_id,
                  np.asarray(row, dtype=VECTOR_DTYPE).tobytes())
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
            # Each key leaves the graph of the tenant it was added to.
            db.execute("INSERT OR IGNORE INTO dropped (key, tenant) SELECT key, tenant FROM "
                       f"passages WHERE in_graph = 1 AND document_id IN ({marks})", part)
            db.execute(f"DELETE FROM passages WHERE document_id IN ({marks})", part)

    def flush(self) -> None:
        """Move every recent passage into the graphs now (a rebuild ends with it)."""
        with self._write() as db:
            self._merge_recent(db)

    def upgrade_tenants(self, tenants: Iterable[tuple[str, str]]) -> int:
        """Upgrade a catalog written before tenants: every passage takes its document's tenant
        (`tenants`: document id and tenant, from the store), those of documents the store no
        longer has are dropped, and the graphs are built again, one per tenant, all in one
        transaction that readers see at once. Returns the passages kept (0: nothing to do)."""
        if not self.lacks_tenants:
            return 0
        with self._write() as db:
            pairs = iter(tenants)
            while chunk := [(tenant, ident) for ident, tenant in itertools.islice(pairs, 5000)]:
                db.executemany("UPDATE passages SET tenant = ? WHERE document_id = ?", chunk)
            db.execute("DELETE FROM passages WHERE tenant IS NULL")
            db.execute("DELETE FROM dropped")
            db.execute("UPDATE passages SET in_graph = 0")
            legacy = _settings(db).get("graph")  # the one graph of every tenant's passages
            number = int(legacy[6:-8]) if legacy else 0  # new files never reuse its name
            db.execute("DELETE FROM settings WHERE name = 'graph'")
            db.execute("INSERT OR REPLACE INTO settings VALUES ('graph_number', ?)",
                       (str(number),))
            self._graphs, self._graph_names = {}, {}
            self._merge_recent(db)
            db.execute("INSERT INTO settings VALUES ('tenants', '1')")
            kept = db.execute("SELECT count(*) FROM passages").fetchone()[0]
        self.lacks_tenants = False
        self._remove_stray_files()
        log.info("vector index upgraded: %d passages in %d tenants' graphs", kept,
                 len(self._graphs))
        return kept

    # -- reading -----------------------------------------------------------------------------

    def _refresh(self) -> tuple[dict[str, Index], _Recent]:
        for attempt in range(3):
            try:
                return self._read_changes()
            except FileNotFoundError:  # the writer switched graphs as we read the old name
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _read_changes(self) -> tuple[dict[str, Index], _Recent]:
        """The current graphs and recent passages, reading only what changed since last time."""
        with self._lock:
            if not self.writer:
                self._notice_swap()
            db = self._connection()
            db.execute("BEGIN")  # one snapshot: the graph names and the recent rows agree
            try:
                settings = _settings(db)
                if "tenants" not in settings:
                    raise VectorIndexError(WITHOUT_TENANTS)
                files = _graph_files(settings)
                if not self.writer and files != self._graph_names:
                    self._load_graphs(files, view=True)
                marker = settings.get("graph_number", "0")
                recent = self._recent
                if recent.graph != marker:
                    recent = _Recent(graph=marker)
                columns = "key, document_id, tenant, doc_type, batch_id, vector"
                waiting = db.execute(
                    "SELECT count(*) FROM passages WHERE in_graph = 0").fetchone()[0]
                rows = db.execute(
                    f"SELECT {columns} FROM passages WHERE in_graph = 0 AND key > ? "
                    "ORDER BY key", (recent.last_key,)).fetchall()
                if waiting != len(recent.keys) + len(rows):  # some were replaced: read all
                    recent = _Recent(graph=marker)
                    rows = db.execute(f"SELECT {columns} FROM passages WHERE in_graph = 0 "
                                      "ORDER BY key").fetchall()
            finally:
                db.execute("COMMIT")
            if rows or recent.vectors is None:
                new = _matrix([r[5] for r in rows], self.dimension)
                recent = _Recent(
                    graph=marker,
                    last_key=rows[-1][0] if rows else recent.last_key,
                    keys=np.concatenate([recent.keys, [r[0] for r in rows]]).astype(np.int64),
                    document_ids=_joined(recent.document_ids, rows, 1),
                    tenants=_joined(recent.tenants, rows, 2),
                    doc_types=_joined(recent.doc_types, rows, 3),
                    batch_ids=_joined(recent.batch_ids, rows, 4),
                    vectors=new if recent.vectors is None else np.concatenate(
                        [recent.vectors, new]))
            self._recent = recent
            return self._graphs, recent

    def _notice_swap(self) -> None:
        try:
            inode = os.stat(self.folder / CATALOG).st_ino
        except FileNotFoundError:
            return  # mid-swap, or not written yet: keep what we have
        if self._catalog_inode is not None and inode != self._catalog_inode:
            self._generation += 1
            self._graphs, self._graph_names, self._recent = {}, {}, _Recent()
        self._catalog_inode = inode

    def search(self, query: np.ndarray, *, doc_type: str | None = None,
               batch_id: str | None = None, limit: int = 20,
               min_similarity: float = 0.0) -> Nearest:
        """The nearest documents of the request's tenant (all tenants outside a scope)."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = np.asarray(query, dtype=np.float32)
        tenant = scope_tenant()
        graphs, recent = self._refresh()
        narrowing, _ = _filters(None, doc_type, batch_id)  # what thins a tenant's graph out
        where, params = _filters(tenant, doc_type, batch_id)
        db = self._connection()
        if where:
            # Counting stops past the bound: a filter on a large type costs no more than that.
            candidates = db.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM passages WHERE {where} LIMIT ?)",
                [*params, EXACT_BELOW + 1]).fetchone()[0]
            if candidates <= EXACT_BELOW:
                return self._exact(query, where, params, limit, min_similarity)
        ids, scores = _recent_scores(recent, query, tenant, doc_type, batch_id)
        # The tenant's own graph: no other tenant's passage is in it to crowd the answer out.
        chosen = list(graphs.values()) if tenant is None else [
            graphs[tenant]] if tenant in graphs else []
        # A filter passes some of the graph's answers: start deeper (it doubles down from there).
        fetch = limit * FETCH_PER_RESULT * (4 if narrowing else 1)
        while True:
            graph_ids: list[str] = []
            graph_scores = [np.zeros(0, dtype=np.float32)]
            exhausted = True
            for graph in chosen:
                size = len(graph)
                depth = min(size, fetch)
                if not depth:
                    continue
                graph.expansion_search = _beam(size)
                found = graph.search(query, depth)
                similarity = 1.0 - np.asarray(found.distances, dtype=np.float32)
                keys = found.keys.tolist()
                live = self._documents_of(db, keys, where, params)
                keep = [i for i, key in enumerate(keys) if key in live]
                graph_ids += [live[keys[i]] for i in keep]
                graph_scores.append(similarity[keep])
                if depth < size and len(similarity) and float(
                        similarity[-1]) >= min_similarity:
                    exhausted = False  # deeper in this graph lie more that may pass
            nearest = best_per_document(ids + graph_ids,
                                        np.concatenate([scores, *graph_scores]),
                                        limit, min_similarity)
            if len(nearest.neighbours) >= limit or exhausted:
                return nearest
            # Deeper: most hits were other documents' passages or filtered out.
            fetch *= 4

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

    def _exact(self, query: np.ndarray, where: str, params: list[str], limit: int,
               min_similarity: float) -> Nearest:
        """Every passage that passes the filters compared with the query (the catalog keeps
        each passage's vector: a graph lookup per key is slower)."""
        rows = self._connection().execute(
            f"SELECT key, document_id, vector FROM passages WHERE {where}", params).fetchall()
        ids = [r[1] for r in rows]
        matrix = _matrix([r[2] for r in rows], self.dimension)
        return best_per_document(ids, matrix @ query, limit, min_similarity)

    def count(self) -> int:
        """How many documents the index holds (of the request's tenant, within a scope)."""
        where, params = _filters(scope_tenant(), None, None)
        return self._connection().execute(
            "SELECT count(DISTINCT document_id) FROM passages"
            + (f" WHERE {where}" if where else ""), params).fetchone()[0]

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
        self._graphs = {}


def _beam(passages: int) -> int:
    """The HNSW search beam for a graph this big: recall@10 (bench/search_scale.py, clustered
    MiniLM-like vectors) fell from 0.98 at 40K passages to 0.94 at 150K and 0.84 at 450K with
    a beam of 512; 1,024 gave 0.99 at 150K. Time grows with the beam, ~20 ms p95 at 2,000."""
    return max(EXPANSION_SEARCH, min(4096, passages // 200))


def _matrix(blobs: list[bytes], dimension: int) -> np.ndarray:
    vectors = np.frombuffer(b"".join(blobs), dtype=VECTOR_DTYPE)
    return vectors.reshape(len(blobs), dimension).astype(np.float32)


def _settings(db: sqlite3.Connection) -> dict[str, str]:
    return dict(db.execute("SELECT name, value FROM settings").fetchall())


def _graph_files(settings: dict[str, str]) -> dict[str, str]:
    """Each tenant's graph file, as the catalog's settings name them."""
    return {name[len(GRAPH_OF):]: value for name, value in settings.items()
            if name.startswith(GRAPH_OF)}


def _add_tenant_columns(db: sqlite3.Connection) -> None:
    """A catalog from before tenants gets its tenant columns (empty until upgrade_tenants)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(passages)")}
    if columns and "tenant" not in columns:
        db.execute("ALTER TABLE passages ADD COLUMN tenant TEXT")
        db.execute("ALTER TABLE dropped ADD COLUMN tenant TEXT")


def _filters(tenant: str | None, doc_type: str | None,
             batch_id: str | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    if tenant is not None:
        clauses.append("tenant = ?")
        params.append(tenant)
    if doc_type is not None:
        clauses.append("doc_type = ?")
        params.append(doc_type)
    if batch_id is not None:
        clauses.append("batch_id = ?")
        params.append(batch_id)
    return " AND ".join(clauses), params


def _joined(known: np.ndarray, rows: list, column: int) -> np.ndarray:
    return np.concatenate([known, _strings([r[column] for r in rows])])


def _recent_scores(recent: _Recent, query: np.ndarray, tenant: str | None,
                   doc_type: str | None, batch_id: str | None) -> tuple[list[str], np.ndarray]:
    if recent.vectors is None or not len(recent.keys):
        return [], np.zeros(0, dtype=np.float32)
    chosen = np.ones(len(recent.keys), dtype=bool)
    for values, wanted in ((recent.tenants, tenant), (recent.doc_types, doc_type),
                           (recent.batch_ids, batch_id)):
        if wanted is not None:
            chosen &= values == wanted
    if chosen.all():
        return recent.document_ids.tolist(), recent.vectors @ query
    return recent.document_ids[chosen].tolist(), recent.vectors[chosen] @ query
