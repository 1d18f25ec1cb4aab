"""The store behind POST /api/batches/{id}/files and /api/batch-upload: on SQLite and
PostgreSQL alike, a key is one document however many requests race with it, and migration 0002
matches the models."""

from __future__ import annotations

import threading
from dataclasses import replace

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from docflow.store import Batch, Document, Store
from docflow.store.batches import append_to_batch, open_batch, upload_batch, write_with_retry
from docflow.store.migrate import include_name
from docflow.store.models import Base
from tests.conftest import put


def test_migrations_match_the_models(any_store: Store) -> None:
    with any_store.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": include_name})
        assert compare_metadata(context, Base.metadata) == []


def test_racing_requests_with_one_key_make_one_document(any_store: Store) -> None:
    with any_store.db.write() as session:
        batches = [open_batch(session, "batch-api", None, f"b{i}")[0].id for i in range(6)]
    item = put(any_store, b"same file", "a.txt")
    keyed = replace(item, idempotency_key="host:a.txt")
    start = threading.Barrier(len(batches))
    answers: list[str] = []

    def send(batch_id: str) -> None:
        start.wait()
        appended = write_with_retry(any_store.db, lambda s: append_to_batch(
            s, batch_id, [keyed], max_files=10))
        answers.append(appended.documents[0][0].id)

    threads = [threading.Thread(target=send, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == len(batches) and len(set(answers)) == 1
    with any_store.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 1
        counts = session.scalars(select(Batch.document_count)).all()
    assert sorted(counts) == [0] * (len(batches) - 1) + [1]


def test_racing_batch_uploads_with_one_key_make_one_document_and_one_batch(
        any_store: Store) -> None:
    keyed = replace(put(any_store, b"same file", "a.txt"), idempotency_key="host:a.txt")
    start = threading.Barrier(6)
    answers: list[tuple[str, str]] = []

    def send() -> None:
        start.wait()
        uploaded = write_with_retry(any_store.db, lambda s: upload_batch(
            s, "batch-upload", None, [keyed]))
        answers.append((uploaded.batch_id, uploaded.documents[0][0].id))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 6 and len(set(answers)) == 1
    with any_store.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 1
        assert session.scalars(select(Batch.document_count)).all() == [1]


def test_a_batch_key_opens_the_same_batch(any_store: Store) -> None:
    with any_store.db.write() as session:
        first, created = open_batch(session, "batch-api", "a", "k1")
        again, created_again = open_batch(session, "batch-api", "a", "k1")
    assert created and not created_again and first.id == again.id
