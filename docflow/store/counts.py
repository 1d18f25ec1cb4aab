"""Documents counted by status, per batch and per tenant, kept by the database itself.

Triggers on `documents` add every change to `document_counts` in the transaction that makes
it: a row written (registration, a duplicate's copied result, a child), a status or warnings
changed (claim, result, failure, retry, cancel, the reconciler), a document moved or deleted.
No code path can forget one, so reading a batch's progress or the overview's statuses reads a
few counter rows instead of counting documents (migration 0018).

A key is (batch, tenant, status, warning codes); batch "" holds the tenant's totals over all
its documents (warning codes "" there). Each key has up to SHARDS rows and its count is their
sum. On PostgreSQL a writing transaction adds to the shard that it holds alone until it
commits (a transaction-scoped advisory lock, tried from its backend pid onward), so workers
finishing documents of one batch never queue on one counter row. SQLite serialises writers
already: one shard.

If counters ever drift (rows changed with the triggers dropped), `recount` compares them with
a count of the documents in one snapshot and adds the difference: `docflow recount`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import BigInteger, Connection, Integer, String, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from docflow.store.db import Database
from docflow.store.models import TENANT, Base, Document
from docflow.store.tenants import in_scope

ALL_BATCHES = ""  # the batch_id of a tenant's totals
NO_WARNINGS = ""
SHARDS = 64  # PostgreSQL writers adding at once without waiting; readers sum this many rows
ADVISORY_CLASS = 0x646F63  # the first key of the shards' advisory locks ("doc")


class DocumentCount(Base):
    """How many documents of a batch (or of a tenant: batch "") have a status and warnings."""

    __tablename__ = "document_counts"

    batch_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(TENANT, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    warning_codes: Mapped[str] = mapped_column(String(200), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


Key = tuple[str, str, str, str]  # batch, tenant, status, warning codes


def batch_counts(session: Session, batch_id: str) -> dict[tuple[str, str], int]:
    """The batch's documents by (status, warning codes), from its counter rows."""
    rows = session.execute(
        select(DocumentCount.status, DocumentCount.warning_codes, func.sum(DocumentCount.n))
        .where(DocumentCount.batch_id == batch_id, in_scope(DocumentCount.tenant_id))
        .group_by(DocumentCount.status, DocumentCount.warning_codes))
    return {(status, codes): int(n) for status, codes, n in rows if n}


def counts_of_batches(session: Session, batch_ids: Iterable[str]
                      ) -> dict[str, dict[tuple[str, str], int]]:
    """`batch_counts` of several batches in one read (a page of the batches list)."""
    counted: dict[str, dict[tuple[str, str], int]] = {b: {} for b in batch_ids}
    if not counted:
        return counted
    rows = session.execute(
        select(DocumentCount.batch_id, DocumentCount.status, DocumentCount.warning_codes,
               func.sum(DocumentCount.n))
        .where(DocumentCount.batch_id.in_(list(counted)), in_scope(DocumentCount.tenant_id))
        .group_by(DocumentCount.batch_id, DocumentCount.status, DocumentCount.warning_codes))
    for batch, status, codes, n in rows:
        if n:
            counted[batch][status, codes] = int(n)
    return counted


def counted(session: Session, batch_id: str | None = None, status: str | None = None) -> int:
    """Documents of a batch (None: of the tenant in scope, or everyone's) with a status (None:
    any), from the counters: a few rows, however many documents match."""
    query = (select(func.coalesce(func.sum(DocumentCount.n), 0))
             .where(DocumentCount.batch_id == (batch_id or ALL_BATCHES),
                    in_scope(DocumentCount.tenant_id)))
    if status:
        query = query.where(DocumentCount.status == status)
    return int(session.scalar(query) or 0)


def status_totals(session: Session) -> dict[str, int]:
    """Documents by status: the tenant in scope's, or everyone's outside a scope."""
    rows = session.execute(
        select(DocumentCount.status, func.sum(DocumentCount.n))
        .where(DocumentCount.batch_id == ALL_BATCHES, in_scope(DocumentCount.tenant_id))
        .group_by(DocumentCount.status))
    return {status: int(n) for status, n in rows if n}


# --- the triggers -------------------------------------------------------------------------

_COLUMNS = "batch_id, tenant_id, status, warning_codes, shard, n"
_PRIMARY_KEY = "batch_id, tenant_id, status, warning_codes, shard"
_CHANGED = ("OLD.status IS DISTINCT FROM NEW.status "
            "OR OLD.warning_codes IS DISTINCT FROM NEW.warning_codes "
            "OR OLD.batch_id IS DISTINCT FROM NEW.batch_id "
            "OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id")

_POSTGRES = [
    # The shard this transaction holds alone; more writers than shards wait for one.
    f"""CREATE OR REPLACE FUNCTION docflow_count_shard() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  first integer := mod(pg_backend_pid(), {SHARDS});
BEGIN
  FOR i IN 0..{SHARDS - 1} LOOP
    IF pg_try_advisory_xact_lock({ADVISORY_CLASS}, mod(first + i, {SHARDS})) THEN
      RETURN mod(first + i, {SHARDS});
    END IF;
  END LOOP;
  PERFORM pg_advisory_xact_lock({ADVISORY_CLASS}, first);
  RETURN first;
END $$""",
    f"""CREATE OR REPLACE FUNCTION docflow_add_count(
  b text, t text, st text, codes text, delta bigint, s integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO document_counts ({_COLUMNS}) VALUES ('', t, st, '', s, delta)
    ON CONFLICT ({_PRIMARY_KEY}) DO UPDATE SET n = document_counts.n + EXCLUDED.n;
  IF b IS NOT NULL THEN
    INSERT INTO document_counts ({_COLUMNS}) VALUES (b, t, st, coalesce(codes, ''), s, delta)
      ON CONFLICT ({_PRIMARY_KEY}) DO UPDATE SET n = document_counts.n + EXCLUDED.n;
  END IF;
END $$""",
    """CREATE OR REPLACE FUNCTION docflow_count_document() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  s integer := docflow_count_shard();
BEGIN
  IF TG_OP <> 'INSERT' THEN
    PERFORM docflow_add_count(OLD.batch_id, OLD.tenant_id, OLD.status, OLD.warning_codes, -1, s);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM docflow_add_count(NEW.batch_id, NEW.tenant_id, NEW.status, NEW.warning_codes, 1, s);
  END IF;
  RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS documents_count_insert_delete ON documents",
    """CREATE TRIGGER documents_count_insert_delete AFTER INSERT OR DELETE ON documents
FOR EACH ROW EXECUTE FUNCTION docflow_count_document()""",
    "DROP TRIGGER IF EXISTS documents_count_update ON documents",
    f"""CREATE TRIGGER documents_count_update
AFTER UPDATE OF status, warning_codes, batch_id, tenant_id ON documents
FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION docflow_count_document()""",
]


def _sqlite_add(row: str, sign: str) -> str:
    """The statements adding `row` (OLD or NEW) with `sign` to its tenant's and batch's keys."""
    upsert = f"ON CONFLICT ({_PRIMARY_KEY}) DO UPDATE SET n = n + excluded.n;"
    return (f"INSERT INTO document_counts ({_COLUMNS}) "
            f"VALUES ('', {row}.tenant_id, {row}.status, '', 0, {sign}1) {upsert}\n"
            f"INSERT INTO document_counts ({_COLUMNS}) SELECT {row}.batch_id, {row}.tenant_id, "
            f"{row}.status, coalesce({row}.warning_codes, ''), 0, {sign}1 "
            f"WHERE {row}.batch_id IS NOT NULL {upsert}")


_SQLITE = [
    "DROP TRIGGER IF EXISTS documents_count_insert",
    "DROP TRIGGER IF EXISTS documents_count_update",
    "DROP TRIGGER IF EXISTS documents_count_delete",
    f"CREATE TRIGGER documents_count_insert AFTER INSERT ON documents BEGIN\n"
    f"{_sqlite_add('NEW', '+')}\nEND",
    f"CREATE TRIGGER documents_count_update "
    f"AFTER UPDATE OF status, warning_codes, batch_id, tenant_id ON documents "
    f"WHEN {_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} BEGIN\n"
    f"{_sqlite_add('OLD', '-')}\n{_sqlite_add('NEW', '+')}\nEND",
    f"CREATE TRIGGER documents_count_delete AFTER DELETE ON documents BEGIN\n"
    f"{_sqlite_add('OLD', '-')}\nEND",
]

TRIGGERS = ("documents_count_insert", "documents_count_update", "documents_count_delete",
            "documents_count_insert_delete")


def install_triggers(conn: Connection) -> None:
    """(Re)create the counting triggers; safe to repeat."""
    for statement in _POSTGRES if conn.dialect.name == "postgresql" else _SQLITE:
        conn.exec_driver_sql(statement)


def missing_triggers(conn: Connection) -> bool:
    if conn.dialect.name == "postgresql":
        found = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'documents'::regclass "
            "AND tgname IN ('documents_count_insert_delete', 'documents_count_update')")
        return found.scalar_one() < 2
    found = conn.exec_driver_sql(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'documents' "
        "AND name IN ('documents_count_insert', 'documents_count_update', "
        "'documents_count_delete')")
    return found.scalar_one() < 3


def ensure_triggers(conn: Connection) -> None:
    """Put back triggers a later migration dropped: on SQLite, one that copies the documents
    table into a new one (Alembic's batch mode) leaves its triggers behind. Run after the
    migrations on every start, before anything writes a document; the copy changed no count."""
    if missing_triggers(conn):
        install_triggers(conn)


def drop_triggers(conn: Connection) -> None:
    """Stop counting (the functions stay: `recount` takes its shard with one)."""
    for name in TRIGGERS:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON documents")
        else:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


def drop_functions(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        for function in ("docflow_count_document()", "docflow_add_count("
                         "text, text, text, text, bigint, integer)", "docflow_count_shard()"):
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function}")


def backfill(conn: Connection) -> None:
    """Count every document into empty counters (the migration, under the triggers' lock)."""
    conn.exec_driver_sql(
        f"INSERT INTO document_counts ({_COLUMNS}) SELECT '', tenant_id, status, '', 0, "
        f"count(*) FROM documents GROUP BY tenant_id, status")
    conn.exec_driver_sql(
        f"INSERT INTO document_counts ({_COLUMNS}) SELECT batch_id, tenant_id, status, "
        f"coalesce(warning_codes, ''), 0, count(*) FROM documents WHERE batch_id IS NOT NULL "
        f"GROUP BY batch_id, tenant_id, status, coalesce(warning_codes, '')")


# --- repair -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recount:
    keys: int  # counter keys compared
    corrected: dict[Key, int]  # what was added to each key that was off

    @property
    def drifted(self) -> bool:
        return bool(self.corrected)


def _documents_by_key(session: Session, batch_id: str | None) -> dict[Key, int]:
    counted: dict[Key, int] = {}
    if batch_id is None:
        totals = session.execute(select(Document.tenant_id, Document.status, func.count())
                                 .group_by(Document.tenant_id, Document.status))
        for tenant, status, n in totals:
            counted[ALL_BATCHES, tenant, status, NO_WARNINGS] = n
    codes = func.coalesce(Document.warning_codes, NO_WARNINGS)
    query = (select(Document.batch_id, Document.tenant_id, Document.status, codes, func.count())
             .where(Document.batch_id.is_not(None))
             .group_by(Document.batch_id, Document.tenant_id, Document.status, codes))
    if batch_id is not None:
        query = query.where(Document.batch_id == batch_id)
    for batch, tenant, status, warning_codes, n in session.execute(query):
        counted[batch, tenant, status, warning_codes] = n
    return counted


def _counters_by_key(session: Session, batch_id: str | None) -> dict[Key, int]:
    key = (DocumentCount.batch_id, DocumentCount.tenant_id, DocumentCount.status,
           DocumentCount.warning_codes)
    query = select(*key, func.sum(DocumentCount.n)).group_by(*key)
    if batch_id is not None:
        query = query.where(DocumentCount.batch_id == batch_id)
    return {(b, t, s, c): int(n) for b, t, s, c, n in session.execute(query)}


def add_counts(session: Session, deltas: Iterable[tuple[Key, int]]) -> None:
    """Add to counters in this write transaction, into the shard it holds."""
    postgres = session.get_bind().dialect.name == "postgresql"
    shard = session.scalar(text("SELECT docflow_count_shard()")) if postgres else 0
    for (batch, tenant, status, codes), delta in deltas:
        session.execute(text(
            f"INSERT INTO document_counts ({_COLUMNS}) VALUES (:b, :t, :s, :c, :shard, :n) "
            f"ON CONFLICT ({_PRIMARY_KEY}) DO UPDATE SET n = document_counts.n + excluded.n"),
            {"b": batch, "t": tenant, "s": status, "c": codes, "shard": shard, "n": delta})


def recount(db: Database, batch_id: str | None = None) -> Recount:
    """Count the documents of a batch (None: of every batch and tenant) and correct its
    counters by the difference. Both are read in one snapshot, where counters and documents
    agree unless they drifted; the difference is added in a later transaction, so the writes
    made meanwhile (counted by the triggers) stay counted."""
    with db.read() as session:
        if not db.is_sqlite:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        counted = _documents_by_key(session, batch_id)
        counters = _counters_by_key(session, batch_id)
    keys = counted.keys() | counters.keys()
    corrected = {k: counted.get(k, 0) - counters.get(k, 0) for k in keys}
    corrected = {k: d for k, d in corrected.items() if d}
    if corrected:
        with db.write() as session:
            add_counts(session, sorted(corrected.items()))
    return Recount(keys=len(keys), corrected=corrected)
