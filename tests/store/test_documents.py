"""The store keeps documents safe: rows first, one blob per content, fenced claims."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from docflow.store import Document, DocumentStatus, Extraction, Store
from docflow.store import documents as docs
from docflow.store.batches import batch_progress, create_batch
from docflow.store.documents import ClaimOutcome, clean_filename
from docflow.store.models import utcnow
from tests.conftest import put


def _claim(store: Store, doc_id: str, pid: int = 1, gone: bool = False,
           max_attempts: int = 4) -> docs.Claim:
    with store.db.write() as session:
        return docs.claim(session, doc_id, worker="w@h", host="h", pid=pid, lease_seconds=60,
                          max_attempts=max_attempts, holder_gone=lambda _doc: gone)


def test_same_bytes_are_stored_once_and_each_upload_gets_its_own_document(store: Store) -> None:
    a, b = put(store, b"hello world", "a.txt"), put(store, b"hello world", "b.txt")
    assert a.blob.sha256 == b.blob.sha256
    with store.db.write() as session:
        rows = docs.register_documents(session, [a, b])
    assert len({r.id for r in rows}) == 2
    stored = list(store.blobs.root.rglob(a.blob.sha256))
    assert len(stored) == 1 and stored[0].read_bytes() == b"hello world"


def test_a_second_upload_of_finished_bytes_reuses_the_result(store: Store) -> None:
    first = put(store, b"invoice text", "first.txt")
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [first])
    claim = _claim(store, doc.id)
    with store.db.write() as session:
        held = docs.held(session, doc.id, claim.attempt)
        assert held is not None
        held.status, held.doc_type, held.fields = DocumentStatus.COMPLETED, "invoice", []
    with store.db.write() as session:
        (again,) = docs.register_documents(session, [put(store, b"invoice text", "copy.txt")])
        assert again.status == DocumentStatus.COMPLETED
        assert again.doc_type == "invoice" and again.reused_from == doc.id
        assert again.filename == "copy.txt" and not again.indexed


def test_claim_lease_and_fencing(store: Store) -> None:
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, b"x")])
    first = _claim(store, doc.id, pid=1)
    assert first.outcome is ClaimOutcome.CLAIMED and first.attempt == 1
    # A live holder keeps it; a second message waits for the lease.
    assert _claim(store, doc.id, pid=2).outcome is ClaimOutcome.BUSY
    # A dead holder gives it up at once, and the old attempt can no longer write.
    second = _claim(store, doc.id, pid=2, gone=True)
    assert second.outcome is ClaimOutcome.CLAIMED and second.attempt == 2
    with store.db.write() as session:
        assert docs.held(session, doc.id, first.attempt) is None
        assert not docs.renew_lease(session, doc.id, first.attempt, 60)
        assert docs.renew_lease(session, doc.id, second.attempt, 60)
        held = docs.held(session, doc.id, second.attempt)
        assert held is not None
        docs.mark_failed(held, "corrupt", "broken")
    assert _claim(store, doc.id).outcome is ClaimOutcome.DONE


def test_an_expired_lease_can_be_taken_over(store: Store) -> None:
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, b"y")])
    _claim(store, doc.id)
    with store.db.write() as session:
        session.get(Document, doc.id).lease_until = utcnow() - timedelta(seconds=1)
    assert _claim(store, doc.id).outcome is ClaimOutcome.CLAIMED


def test_a_document_that_keeps_killing_workers_is_failed(store: Store) -> None:
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, b"poison")])
    for _ in range(2):
        assert _claim(store, doc.id, gone=True, max_attempts=2).outcome is ClaimOutcome.CLAIMED
    assert _claim(store, doc.id, gone=True, max_attempts=2).outcome is ClaimOutcome.EXHAUSTED
    with store.db.read() as session:
        row = session.get(Document, doc.id)
        assert row.status == DocumentStatus.FAILED and row.error_code == "worker_lost"


def test_batch_progress_counts_every_status(store: Store) -> None:
    with store.db.write() as session:
        batch = create_batch(session, source="test")
        rows = docs.register_documents(session, [put(store, bytes([i])) for i in range(5)],
                                       batch_id=batch.id)
        rows[0].status = DocumentStatus.COMPLETED
        rows[1].status = DocumentStatus.FAILED
        rows[2].status = DocumentStatus.PROCESSING
        batch_id = batch.id
    with store.db.read() as session:
        p = batch_progress(session, batch_id)
        assert batch_progress(session, "nope") is None
    assert (p.total, p.completed, p.failed, p.processing, p.queued) == (5, 1, 1, 1, 2)
    assert p.progress_percent == 40.0 and not p.done


def test_extraction_is_written_once_per_content(store: Store) -> None:
    with store.db.write() as session:
        for _ in range(2):
            docs.save_extraction(session, "ab" * 32, format="text", mime_type="text/plain",
                                 text="t", pages=["t"], page_count=1)
    with store.db.read() as session:
        assert len(session.scalars(select(Extraction)).all()) == 1


@pytest.mark.parametrize("raw, shown", [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\x\\report.pdf", "report.pdf"),
    ("bad\x00name\x1b[31m.txt", "bad\ufffdname\ufffd[31m.txt"),
    ("", "unnamed"),
    ("..", "unnamed"),
])
def test_filenames_are_stored_safely(raw: str, shown: str) -> None:
    assert clean_filename(raw) == shown


def test_concurrent_writers_never_see_database_is_locked(store: Store) -> None:
    with store.db.write() as session:
        rows = docs.register_documents(session, [put(store, f"d{i}".encode()) for i in range(40)])
    ids = [r.id for r in rows]
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for doc_id in ids[offset::4]:
                claim = _claim(store, doc_id, pid=offset)
                for _ in range(3):
                    with store.db.write() as session:
                        docs.renew_lease(session, doc_id, claim.attempt, 60)
                with store.db.write() as session:
                    held = docs.held(session, doc_id, claim.attempt)
                    held.status = DocumentStatus.COMPLETED
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with store.db.read() as session:
        statuses = session.scalars(select(Document.status)).all()
    assert statuses == [DocumentStatus.COMPLETED] * 40



@pytest.mark.postgres
def test_many_hosts_migrating_a_new_database_at_once_is_safe(postgres_url: str,
                                                              tmp_path) -> None:
    import os
    import subprocess
    import sys

    from sqlalchemy import create_engine, inspect

    from tests.conftest import empty_postgres

    empty_postgres(postgres_url)
    engine = create_engine(postgres_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
    env.update(DOCFLOW_DATABASE_URL=postgres_url, DOCFLOW_DATA_DIR=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-m", "docflow", "migrate"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(4)]
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    assert "documents" in inspect(engine).get_table_names()
    engine.dispose()


@pytest.mark.postgres
def test_two_hosts_adding_the_built_in_types_at_once_both_start(postgres_url: str,
                                                                settings) -> None:
    """Every process adds the built-in types at start; the second of two starting together
    must find the first's rows, not crash on them (UniqueViolation)."""
    from docflow.store import open_store
    from docflow.store.document_types import ensure_defaults
    from docflow.store.migrate import upgrade_database
    from docflow.store.models import DocumentType
    from tests.conftest import empty_postgres

    empty_postgres(postgres_url)
    settings.database_url = postgres_url
    store = open_store(settings)
    upgrade_database(store.db)
    errors: list[BaseException] = []

    def second_host() -> None:
        try:
            with store.db.write() as session:
                ensure_defaults(session)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with store.db.write() as first:
        ensure_defaults(first)  # inserted, not yet committed
        other = threading.Thread(target=second_host)
        other.start()
        other.join(0.5)  # the second host reaches the same rows meanwhile
    other.join(30)
    assert not other.is_alive() and errors == []
    with store.db.read() as session:
        assert session.query(DocumentType).count() >= 11
    store.db.dispose()
