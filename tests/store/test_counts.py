"""The counters behind batch progress and the overview stay equal to a count of the documents,
whatever changes them: registration, duplicates, claims, results, failures, retries, cancels,
children, the reconciler, deletes; on SQLite and PostgreSQL. Writers on PostgreSQL do not
queue on one counter row, and a drift is found and corrected by a recount."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, event, func, insert, select, text, update
from typer.testing import CliRunner

from docflow.config import Settings
from docflow.store import Batch, Document, DocumentStatus, Store
from docflow.store import documents as docs
from docflow.store import ocr_parts as parts
from docflow.store.batches import (
    append_to_batch,
    batch_progress,
    counted_batch_progress,
    create_batch,
    upload_batch,
)
from docflow.store.blobs import StoredBlob
from docflow.store.cancel import cancel_batch, cancel_document
from docflow.store.counts import ALL_BATCHES, DocumentCount, recount, status_totals
from docflow.store.db import Database
from docflow.store.listing import DocumentFilter, count_documents
from docflow.store.migrate import alembic_config, upgrade_database
from docflow.store.models import utcnow
from docflow.store.scope import tenant_scope
from docflow.worker.children import register_children
from docflow.worker.reconciler import reconcile
from tests.conftest import empty_postgres

WARNINGS = ([], [{"code": "no_text", "message": "none"}],
            [{"code": "truncated", "message": "cut"}, {"code": "no_text", "message": "none"}])


def _item(rng: random.Random, name: str) -> docs.NewDocument:
    # Few distinct contents, so uploads often repeat bytes already completed (reused results).
    sha = f"{rng.randrange(12):064x}"
    return docs.NewDocument(filename=name, blob=StoredBlob(sha256=sha, size=10))


def _ids(store: Store, *conditions: object) -> list[str]:
    with store.db.read() as session:
        return sorted(session.scalars(select(Document.id).where(*conditions)))


class NoBroker:
    """The reconciler's view of a broker that has nothing to say (none runs in these tests)."""

    def restore_stranded(self, older_than: float) -> int:
        return 0

    def pending_messages(self) -> int | None:
        return None

    def pending_documents(self) -> int | None:
        return None

    def send(self, refs: object) -> int:
        return len(list(refs))  # type: ignore[call-overload]


class Story:
    """A random sequence of what users, workers and the reconciler do to documents."""

    def __init__(self, store: Store, seed: int) -> None:
        self.store, self.rng, self.n = store, random.Random(seed), 0
        self.batches: list[str] = []

    def name(self) -> str:
        self.n += 1
        return f"f{self.n}.txt"

    def pick(self, *conditions: object) -> str | None:
        ids = _ids(self.store, *conditions)
        return self.rng.choice(ids) if ids else None

    def upload(self) -> None:
        items = [_item(self.rng, self.name()) for _ in range(self.rng.randint(1, 6))]
        tenant = self.rng.choice(["default", "default", "acme"])
        with tenant_scope(tenant), self.store.db.write() as session:
            if self.batches and self.rng.random() < 0.3:
                batch = session.get(Batch, self.rng.choice(self.batches))
                if batch is not None:
                    append_to_batch(session, batch.id, items, max_files=10_000)
                    return
            if self.rng.random() < 0.2:  # a single upload outside any batch
                docs.register_documents(session, items[:1])
                return
            self.batches.append(upload_batch(session, "batch-upload", None, items).batch_id)

    def claim(self) -> None:
        doc_id = self.pick(Document.status.in_([DocumentStatus.QUEUED,
                                                DocumentStatus.PROCESSING]))
        if doc_id is not None:
            with self.store.db.write() as session:
                # Few attempts allowed, so some are given up (failed) by the claim itself.
                docs.claim(session, doc_id, worker="w@h", host="h", pid=1, lease_seconds=60,
                           max_attempts=2, holder_gone=lambda _doc: True)

    def complete(self) -> None:
        doc_id = self.pick(Document.status == DocumentStatus.PROCESSING)
        if doc_id is None:
            return
        with self.store.db.write() as session:
            doc = session.get(Document, doc_id)
            assert doc is not None
            docs.set_warnings(doc, self.rng.choice(WARNINGS))
            doc.status, doc.finished_at = DocumentStatus.COMPLETED, utcnow()
            if self.rng.random() < 0.4:  # an archive: members, one of them too large
                children = [(_item(self.rng, self.name()), i == 0)
                            for i in range(self.rng.randint(1, 3))]
                register_children(session, doc, children, max_file_bytes=5)

    def fail(self) -> None:
        doc_id = self.pick(Document.status == DocumentStatus.PROCESSING)
        if doc_id is not None:
            with self.store.db.write() as session:
                doc = session.get(Document, doc_id)
                assert doc is not None
                parts.fail_document(session, doc, "transient_error", "the disk was away")

    def release(self) -> None:  # a transient error: back to the queue for a retry
        doc_id = self.pick(Document.status == DocumentStatus.PROCESSING)
        if doc_id is not None:
            with self.store.db.write() as session:
                doc = session.get(Document, doc_id)
                assert doc is not None
                docs.release(doc)

    def retry_failed(self) -> None:  # POST /api/batches/{id}/retry: one UPDATE of many rows
        with self.store.db.write() as session:
            session.execute(update(Document).where(Document.status == DocumentStatus.FAILED)
                            .values(status=DocumentStatus.QUEUED, error_code=None,
                                    finished_at=None, attempts=0))

    def cancel(self) -> None:
        with self.store.db.write() as session:
            if self.batches and self.rng.random() < 0.5:
                cancel_batch(session, self.rng.choice(self.batches))
            else:
                doc_id = self.pick(Document.status.in_([DocumentStatus.QUEUED,
                                                        DocumentStatus.PROCESSING]))
                if doc_id is not None:
                    cancel_document(session, doc_id)

    def reconcile(self) -> None:  # the worker holding these died: its leases ran out
        with self.store.db.write() as session:
            session.execute(update(Document).where(Document.status == DocumentStatus.PROCESSING)
                            .values(lease_until=utcnow() - timedelta(minutes=1)))
        reconcile(self.store, NoBroker(), Settings())  # type: ignore[arg-type]

    def rewarn(self) -> None:  # a completed document's warnings change, its status does not
        doc_id = self.pick(Document.status == DocumentStatus.COMPLETED)
        if doc_id is not None:
            with self.store.db.write() as session:
                doc = session.get(Document, doc_id)
                assert doc is not None
                docs.set_warnings(doc, self.rng.choice(WARNINGS))

    def delete(self) -> None:
        with self.store.db.read() as session:
            parents = select(Document.parent_id).where(Document.parent_id.is_not(None))
            leaves = sorted(session.scalars(select(Document.id).where(
                Document.id.not_in(parents))))
        if leaves:
            with self.store.db.write() as session:
                session.execute(delete(Document).where(
                    Document.id == self.rng.choice(leaves)))

    def step(self) -> None:
        actions = [(self.upload, 4), (self.claim, 6), (self.complete, 4), (self.fail, 2),
                   (self.release, 1), (self.retry_failed, 1), (self.cancel, 1),
                   (self.reconcile, 1), (self.rewarn, 1), (self.delete, 1)]
        action = self.rng.choices([a for a, _ in actions], [w for _, w in actions])[0]
        action()


def assert_counters_agree(store: Store) -> None:
    """Every batch's progress and every tenant's totals, from the counters and counted."""
    with store.db.read() as session:
        batch_ids = list(session.scalars(select(Batch.id)))
        for batch_id in batch_ids:
            assert batch_progress(session, batch_id) == counted_batch_progress(session, batch_id)
        for tenant in ("default", "acme"):
            with tenant_scope(tenant):
                counted = dict(session.execute(select(Document.status, func.count())
                                               .group_by(Document.status)).all())
                assert status_totals(session) == counted
    assert not recount(store.db).drifted


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_after_any_sequence_of_changes_the_counters_equal_a_recount(
        store: Store, seed: int) -> None:
    story = Story(store, seed)
    seen: set[str] = set()
    for step in range(1, 121):
        story.step()
        with store.db.read() as session:
            seen.update(session.scalars(select(Document.status).distinct()))
        if step % 30 == 0:
            assert_counters_agree(store)
    assert seen == set(DocumentStatus.ALL)  # the story went through every status


def _queued_batch(store: Store, count: int) -> tuple[str, list[str]]:
    with store.db.write() as session:
        batch = create_batch(session, source="test")
        rows = docs.register_documents(session, [
            docs.NewDocument(filename=f"{i}.txt", blob=StoredBlob(f"{i:064x}", 1))
            for i in range(count)], batch_id=batch.id)
        return batch.id, [r.id for r in rows]


@pytest.mark.postgres
@pytest.mark.parametrize("any_store", ["postgresql"], indirect=True)  # SQLite: one writer
def test_writers_finishing_one_batch_do_not_wait_on_each_others_counters(
        any_store: Store) -> None:
    batch_id, (a, b) = _queued_batch(any_store, 2)
    with any_store.db.engine.connect() as first, any_store.db.engine.connect() as second:
        first.execute(update(Document).where(Document.id == a)
                      .values(status=DocumentStatus.COMPLETED))  # open: its rows stay locked
        # With one counter row per batch this would wait for `first` to end: never, here.
        second.execute(text("SET lock_timeout = '10s'"))
        second.execute(update(Document).where(Document.id == b)
                       .values(status=DocumentStatus.COMPLETED))
        second.commit()
        first.commit()
    with any_store.db.read() as session:
        shards = session.scalars(select(DocumentCount.shard).where(
            DocumentCount.batch_id == batch_id,
            DocumentCount.status == DocumentStatus.COMPLETED)).all()
        assert len(set(shards)) == 2
        progress = batch_progress(session, batch_id)
    assert progress is not None and progress.completed == 2
    assert_counters_agree(any_store)


def test_many_workers_at_once_leave_the_counters_exact(store: Store) -> None:
    batch_id, ids = _queued_batch(store, 200)
    errors: list[BaseException] = []

    def work(mine: list[str]) -> None:
        try:
            for doc_id in mine:
                with store.db.write() as session:
                    claim = docs.claim(session, doc_id, worker="w@h", host="h", pid=1,
                                       lease_seconds=60, max_attempts=3,
                                       holder_gone=lambda _doc: False)
                with store.db.write() as session:
                    held = docs.held(session, doc_id, claim.attempt)
                    assert held is not None
                    if doc_id[-1] in "01":
                        docs.mark_failed(held, "corrupt", "broken")
                    else:
                        held.status = DocumentStatus.COMPLETED
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(ids[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with store.db.read() as session:
        progress = batch_progress(session, batch_id)
    assert progress is not None and progress.done and progress.total == 200
    assert progress.failed == sum(i[-1] in "01" for i in ids)
    assert_counters_agree(store)


def test_a_recount_corrects_counters_that_drifted(store: Store) -> None:
    batch_id, ids = _queued_batch(store, 5)
    with store.db.write() as session:  # as if rows were changed with the triggers off
        session.execute(update(DocumentCount).where(DocumentCount.batch_id == batch_id)
                        .values(n=DocumentCount.n + 3))
        session.execute(delete(DocumentCount).where(DocumentCount.batch_id == ALL_BATCHES))
    with store.db.read() as session:
        wrong = batch_progress(session, batch_id)
    assert wrong is not None and wrong.queued != 5

    fixed = recount(store.db, batch_id)
    assert fixed.drifted and list(fixed.corrected.values()) == [-3]
    with store.db.read() as session:
        assert batch_progress(session, batch_id) == counted_batch_progress(session, batch_id)
    everything = recount(store.db)
    assert everything.corrected == {(ALL_BATCHES, "default", "queued", ""): 5}
    assert_counters_agree(store)


def test_docflow_recount_repairs_from_the_command_line(store: Store, settings: Settings,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    from docflow.cli import app

    batch_id, _ = _queued_batch(store, 4)
    with store.db.write() as session:
        session.execute(delete(DocumentCount).where(DocumentCount.batch_id == batch_id))
    if not store.db.is_sqlite:
        monkeypatch.setenv("DOCFLOW_DATABASE_URL", store.db.url)
    result = CliRunner().invoke(app, ["recount", batch_id])
    assert result.exit_code == 0, result.output
    assert f"corrected batch {batch_id} queued: +4" in result.output
    again = CliRunner().invoke(app, ["recount"])
    assert again.exit_code == 0 and "counters agree" in again.output
    with store.db.read() as session:
        progress = batch_progress(session, batch_id)
    assert progress is not None and progress.queued == 4


def test_triggers_a_later_migration_dropped_come_back_on_start(store: Store) -> None:
    with store.db.engine.begin() as conn:  # what an SQLite table copy does to its triggers
        from docflow.store.counts import drop_triggers

        drop_triggers(conn)
    upgrade_database(store.db)
    batch_id, _ = _queued_batch(store, 3)
    with store.db.read() as session:
        progress = batch_progress(session, batch_id)
    assert progress is not None and progress.queued == 3


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_before_counters(settings: Settings, request: pytest.FixtureRequest
                             ) -> Iterator[Database]:
    """A database at the revision before the counters (0017), on each database docflow supports."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        empty_postgres(url)
    else:
        settings.ensure_dirs()
        url = settings.sqlalchemy_url
    db = Database(url)
    from alembic import command

    cfg = alembic_config(url)
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0017_keyset")
        conn.commit()
    yield db
    db.dispose()


def test_the_migration_counts_the_documents_already_there(
        database_before_counters: Database) -> None:
    db = database_before_counters
    with db.write() as session:
        session.execute(insert(Batch), [{"id": "b1", "source": "test", "tenant_id": "default"},
                                        {"id": "b2", "source": "test", "tenant_id": "acme"}])
        session.execute(insert(Document), [
            {"id": f"{i:032x}", "task_id": f"t{i}", "batch_id": ["b1", "b2", None][i % 3],
             "tenant_id": "acme" if i % 3 == 1 else "default", "filename": "f", "sha256": "0",
             "size": 1, "status": DocumentStatus.ALL[i % 4],
             "warning_codes": "no_text" if i % 4 == 2 and i % 8 == 2 else None}
            for i in range(40)])
    upgrade_database(db)
    with db.read() as session:
        assert batch_progress(session, "b1") == counted_batch_progress(session, "b1")
        assert batch_progress(session, "b2") == counted_batch_progress(session, "b2")
        assert sum(status_totals(session).values()) == 40
    assert not recount(db).drifted


def test_counting_documents_by_tenant_status_and_batch_reads_the_counters_not_the_documents(
        store: Store) -> None:
    story = Story(store, 4)
    for _ in range(60):
        story.step()
    statements: list[str] = []

    def capture(conn: object, cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    with store.db.read() as session:
        batch_ids = list(session.scalars(select(Batch.id)))
    filters = [DocumentFilter(), *(DocumentFilter(status=s) for s in DocumentStatus.ALL),
               *(DocumentFilter(batch_id=b) for b in batch_ids[:3]),
               *(DocumentFilter(batch_id=b, status=DocumentStatus.COMPLETED)
                 for b in batch_ids[:3])]
    for tenant in ("default", "acme"):
        for flt in filters:
            with tenant_scope(tenant), store.db.read() as session:
                expected = session.scalar(select(func.count()).select_from(Document).where(
                    *(getattr(Document, k) == v for k, v in flt.as_dict().items())))
                statements.clear()
                event.listen(store.db.engine, "before_cursor_execute", capture)
                try:
                    assert count_documents(session, flt) == expected, (tenant, flt)
                finally:
                    event.remove(store.db.engine, "before_cursor_execute", capture)
            assert statements and all("FROM documents" not in s for s in statements), statements
