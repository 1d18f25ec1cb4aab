"""The reconciler and the indexer against a real embedded Valkey and a real tantivy index."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis

from docflow.config import Settings
from docflow.search import open_index
from docflow.store import Document, DocumentStatus, Store, Worker, open_store, workers
from docflow.store import documents as docs
from docflow.store.models import utcnow
from docflow.worker import runtime as runtime_module
from docflow.worker.dispatch import Dispatcher, submit_documents
from docflow.worker.indexer import index_pending
from docflow.worker.reconciler import reconcile
from docflow.worker.tasks import process_document
from tests.conftest import empty_postgres, put


def _age_queued(store: Store, seconds: float) -> None:
    with store.db.write() as session:
        for doc in session.query(Document).filter(Document.status == DocumentStatus.QUEUED):
            doc.enqueued_at = utcnow() - timedelta(seconds=seconds)


def test_documents_whose_messages_were_lost_are_sent_again(
        settings: Settings, store: Store, broker: redis.Redis) -> None:
    dispatcher = Dispatcher(settings)
    items = [put(store, f"doc {i}".encode(), f"{i}.txt") for i in range(5)]
    submit_documents(store, dispatcher, items, source="test")
    # Small documents share a message; it stands for each of them.
    assert dispatcher.pending_messages() == 1 and dispatcher.pending_documents() == 5
    _age_queued(store, settings.resend_after_seconds + 1)
    assert reconcile(store, dispatcher, settings).sent == 0
    broker.flushall()  # the broker lost its queue (restart without persistence)
    report = reconcile(store, dispatcher, settings)
    assert report.lost_messages == 5 and report.sent == 5
    assert dispatcher.pending_documents() == 5
    # Nothing is missing any more: a second round sends nothing.
    _age_queued(store, settings.resend_after_seconds + 1)
    assert reconcile(store, dispatcher, settings).sent == 0
    dispatcher.close()


def test_a_document_whose_lease_ran_out_is_requeued_and_sent(
        settings: Settings, store: Store, broker: redis.Redis) -> None:
    dispatcher = Dispatcher(settings)
    sub = submit_documents(store, dispatcher, [put(store, b"x", "x.txt")], source="test")
    doc_id = sub.documents[0][0]
    broker.flushall()
    with store.db.write() as session:
        docs.claim(session, doc_id, worker="dead@host", host="elsewhere", pid=1,
                   lease_seconds=60, max_attempts=4, holder_gone=lambda d: False)
        session.get(Document, doc_id).lease_until = utcnow() - timedelta(seconds=1)
    report = reconcile(store, dispatcher, settings)
    assert report.expired_leases == 1 and report.sent == 1
    with store.db.read() as session:
        assert session.get(Document, doc_id).status == DocumentStatus.QUEUED
    dispatcher.close()


def test_the_documents_of_a_worker_that_stopped_beating_are_sent_again(
        settings: Settings, store: Store, broker: redis.Redis) -> None:
    """Its leases may run far into the future: a silent heartbeat is enough to take them."""
    dispatcher = Dispatcher(settings)
    sub = submit_documents(store, dispatcher, [put(store, b"held by the dead", "dead.txt"),
                                               put(store, b"held by the living", "alive.txt")],
                           source="test")
    dead_id, alive_id = sub.documents[0][0], sub.documents[1][0]
    broker.flushall()  # only what the reconciler sends is in the queue now
    with store.db.write() as session:
        for doc_id, worker in ((dead_id, "dead@host"), (alive_id, "alive@host")):
            docs.claim(session, doc_id, worker=worker, host="elsewhere", pid=1,
                       lease_seconds=3600, max_attempts=4, holder_gone=lambda d: False)
            workers.heartbeat(session, name=worker, hostname="elsewhere", pid=1,
                              concurrency=1, queues="default")
        session.get(Worker, "dead@host").last_heartbeat = utcnow() - timedelta(
            seconds=settings.worker_stale_seconds + 1)
    report = reconcile(store, dispatcher, settings)
    assert (report.expired_leases, report.sent) == (1, 1)
    with store.db.read() as session:
        assert session.get(Document, dead_id).status == DocumentStatus.QUEUED
        alive = session.get(Document, alive_id)
        assert (alive.status, alive.worker) == (DocumentStatus.PROCESSING, "alive@host")
    assert broker.llen("default") == 1 and dead_id.encode() in broker.lindex("default", 0)
    # The worker beating now keeps its document: the next round sends nothing.
    assert reconcile(store, dispatcher, settings).sent == 0
    dispatcher.close()


@pytest.fixture
def postgres_store(settings: Settings, postgres_url: str) -> Iterator[Store]:
    settings.database_url = postgres_url
    empty_postgres(postgres_url)
    s = open_store(settings, migrate=True)
    yield s
    s.db.dispose()


@pytest.mark.postgres
def test_a_round_is_skipped_while_another_host_reconciles(
        settings: Settings, postgres_store: Store, broker: redis.Redis) -> None:
    dispatcher = Dispatcher(settings)
    submit_documents(postgres_store, dispatcher, [put(postgres_store, b"lost", "lost.txt")],
                     source="test")
    broker.flushall()
    _age_queued(postgres_store, settings.resend_after_seconds + 1)
    other_host = open_store(settings)  # its own engine: another connection holds the lock
    try:
        with other_host.db.exclusive("docflow.reconciler") as held:
            assert held
            report = reconcile(postgres_store, dispatcher, settings)
            assert report.skipped and report.sent == 0
            assert broker.llen("default") == 0
    finally:
        other_host.db.dispose()
    # The lock is free again: this round finds the lost message and sends it.
    report = reconcile(postgres_store, dispatcher, settings)
    assert not report.skipped and report.sent == 1 and broker.llen("default") == 1
    dispatcher.close()


def test_completed_documents_are_indexed_once_in_batches(settings: Settings,
                                                         store: Store) -> None:
    runtime_module._current = None
    ids = []
    for i, word in enumerate(["quokka", "narwhal", "axolotl"]):
        with store.db.write() as session:
            (doc,) = docs.register_documents(session, [put(store, f"A note about the {word} "
                                                       f"number {i}.".encode(), f"{word}.txt")])
            ids.append(doc.id)
        process_document(doc.id)
    writer = open_index("tantivy", settings.index_dir, writer=True)
    assert index_pending(store, writer, batch_size=2) == 2
    assert index_pending(store, writer, batch_size=2) == 1
    assert index_pending(store, writer, batch_size=2) == 0
    reader = open_index("tantivy", settings.index_dir, writer=False)
    hits = reader.search("narwhal").hits
    assert [h.id for h in hits] == [ids[1]] and "<b>narwhal</b>" in hits[0].snippet
    assert reader.count() == 3
    reader.close()
    writer.close()


def test_a_lost_message_is_found_while_other_documents_are_in_flight(
        settings: Settings, store: Store, broker: redis.Redis) -> None:
    """Work in flight keeps its message unacknowledged; it must not hide a lost one."""
    settings.documents_per_task = 1  # a message each, so that one of them can be lost
    dispatcher = Dispatcher(settings)
    sub = submit_documents(store, dispatcher, [put(store, b"doc P", "p.txt"),
                                               put(store, b"doc Q", "q.txt")], source="test")
    taken_id, lost_id = sub.documents[0][0], sub.documents[1][0]
    # A worker takes P: with acks_late its message moves to the unacknowledged hash.
    broker.hset("unacked", "tag-p", broker.rpop("default"))
    with store.db.write() as session:
        docs.claim(session, taken_id, worker="w@host", host="host", pid=1, lease_seconds=600,
                   max_attempts=4, holder_gone=lambda d: False)
    broker.rpop("default")  # Q's message is lost
    _age_queued(store, settings.resend_after_seconds + 1)
    report = reconcile(store, dispatcher, settings)
    assert report.lost_messages == 1 and report.sent == 1
    assert broker.llen("default") == 1
    assert lost_id.encode() in broker.lindex("default", 0)  # in the message's argsrepr
    # P is still in flight and Q has its message again: nothing more to send.
    _age_queued(store, settings.resend_after_seconds + 1)
    assert reconcile(store, dispatcher, settings).sent == 0
    dispatcher.close()


def test_a_type_corrected_while_indexing_is_indexed_again(settings: Settings, store: Store,
                                                          monkeypatch) -> None:
    runtime_module._current = None
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, b"A note about the okapi.",
                                                        "okapi.txt")])
    process_document(doc.id)
    writer = open_index("tantivy", settings.index_dir, writer=True)
    real_index = writer.index

    def correct_meanwhile(batch: list) -> None:  # a PATCH lands while the batch is written
        real_index(batch)
        with store.db.write() as session:
            row = session.get(Document, doc.id)
            row.doc_type, row.indexed = "letter", False

    monkeypatch.setattr(writer, "index", correct_meanwhile)
    assert index_pending(store, writer, batch_size=10) == 1
    monkeypatch.setattr(writer, "index", real_index)
    assert index_pending(store, writer, batch_size=10) == 1  # still pending: indexed again
    assert index_pending(store, writer, batch_size=10) == 0
    reader = open_index("tantivy", settings.index_dir, writer=False)
    assert [h.id for h in reader.search("okapi", doc_type="letter").hits] == [doc.id]
    reader.close()
