"""GET /metrics: what Prometheus reads, computed from the database and the broker, so every API
process on every host tells the same numbers, whichever process did the work."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from docflow.api.app import create_app
from docflow.auth.scopes import Scope
from docflow.auth.tokens import create_token
from docflow.config import AuthMode, Settings
from docflow.observability.counters import KEY, Counters, Increments
from docflow.observability.documents import batch_indexed
from docflow.search import open_index
from docflow.store import Store, Worker, workers
from docflow.store import documents as docs
from docflow.store.models import utcnow
from docflow.worker import runtime as runtime_module
from docflow.worker.dispatch import Dispatcher, TaskRef
from docflow.worker.indexer import index_pending
from docflow.worker.tasks import process_document
from tests.conftest import put

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient, headers: dict[str, str] | None = None) -> Samples:
    reply = client.get("/metrics", headers=headers or {})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(reply.text) for s in family.samples}


def value(samples: Samples, metric: str, /, **labels: str) -> float | None:
    return samples.get((metric, frozenset(labels.items())))


def _register(store: Store, content: bytes, name: str) -> str:
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, content, name)])
        return doc.id


def test_documents_failures_queues_workers_and_tasks_are_counted(
        api: TestClient, store: Store, settings: Settings, broker: redis.Redis) -> None:
    runtime_module._current = None  # the task opens its runtime from the test's environment
    good = _register(store, b"Invoice 7. Total due: $10.00", "a.txt")
    empty = _register(store, b"", "empty.txt")
    waiting = _register(store, b"still waiting in the queue", "c.txt")
    process_document.apply(args=[good])
    process_document.apply(args=[empty])
    with store.db.read() as session:
        task_id = session.get(docs.Document, waiting).task_id
    assert Dispatcher(settings).send([TaskRef(waiting, task_id)]) == 1
    with store.db.write() as session:
        workers.heartbeat(session, name="a@host1", hostname="host1", pid=1, concurrency=2,
                          queues="default")
        workers.heartbeat(session, name="b@host2", hostname="host2", pid=2, concurrency=2,
                          queues="ocr")
        session.get(Worker, "b@host2").last_heartbeat = utcnow() - timedelta(minutes=2)

    deadline = time.monotonic() + 30
    while True:  # tasks sent are added within a second, in the background
        samples = scrape(api)
        sent = value(samples, "celery_task_sent_total", name="docflow.process_document",
                     queue="default", hostname=runtime_module.HOSTNAME)
        if sent == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sent == 1
    assert value(samples, "docflow_documents", status="completed") == 1
    assert value(samples, "docflow_documents", status="failed") == 1
    assert value(samples, "docflow_documents", status="queued") == 1
    assert value(samples, "docflow_document_failures", code="empty") == 1
    assert value(samples, "celery_queue_length", queue_name="default") == 1
    assert value(samples, "celery_queue_length", queue_name="ocr") == 0
    assert value(samples, "celery_worker_up", hostname="host1", worker="a@host1") == 1
    assert value(samples, "celery_worker_up", hostname="host2", worker="b@host2") == 0
    assert value(samples, "docflow_workers", state="lost") == 1
    assert value(samples, "docflow_up", component="database") == 1
    assert value(samples, "docflow_up", component="broker") == 1
    # Run here, not delivered by the broker: no queue (a worker's tasks carry theirs).
    task = {"name": "docflow.process_document", "queue": "",
            "hostname": runtime_module.HOSTNAME}
    # Both tasks returned (a bad document fails the document, not the task).
    assert value(samples, "celery_task_succeeded_total", **task) == 2
    assert value(samples, "celery_task_runtime_count", **task) == 2
    assert value(samples, "celery_task_runtime_bucket", **task, le="+Inf") == 2
    assert value(samples, "docflow_documents_ended_total", status="completed", code="") == 1
    assert value(samples, "docflow_documents_ended_total", status="failed", code="empty") == 1
    assert value(samples, "docflow_pages_read_total") == 1
    assert value(samples, "docflow_processed_bytes_total") == len(b"Invoice 7. Total due: $10.00")
    for stage in ("detect", "extract", "classify", "fields"):
        assert value(samples, "docflow_stage_seconds_count", stage=stage) == 1, stage


def test_counters_added_by_several_processes_add_up(broker: redis.Redis) -> None:
    url = broker.get_connection_kwargs()
    broker_url = f"redis://{url['host']}:{url['port']}/{url.get('db', 0)}"
    script = ("import sys; from docflow.observability.counters import Counters, Increments\n"
              "inc = Increments(); inc.count('docflow_pages_read_total', {}, 5)\n"
              "inc.observe('docflow_stage_seconds', {'stage': 'detect'}, 0.02)\n"
              "assert Counters(sys.argv[1]).add(inc)\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, broker_url]) for _ in range(3)]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    samples = {(s.metric, tuple(sorted(s.labels.items()))): s.value
               for s in Counters(broker_url).read()}
    assert samples["docflow_pages_read_total", ()] == 15
    assert samples["docflow_stage_seconds_count", (("stage", "detect"),)] == 3
    assert samples["docflow_stage_seconds_bucket", (("le", "0.01"), ("stage", "detect"))] == 0
    assert samples["docflow_stage_seconds_bucket", (("le", "0.05"), ("stage", "detect"))] == 3
    assert samples["docflow_stage_seconds_bucket", (("le", "+Inf"), ("stage", "detect"))] == 3
    assert broker.exists(KEY)


def test_a_counter_is_lost_not_raised_when_the_broker_is_down() -> None:
    inc = Increments()
    inc.count("docflow_pages_read_total", {})
    assert Counters("redis://127.0.0.1:1/0", timeout=0.5).add(inc) is False


@pytest.fixture
def secured(settings: Settings, store: Store) -> Settings:
    settings.auth = AuthMode.REQUIRED
    return settings


def test_metrics_need_a_read_token_unless_the_server_is_open(
        secured: Settings, store: Store) -> None:
    with store.db.write() as session:
        token = create_token(session, Scope.READ).token
    with TestClient(create_app(secured, configure_logs=False)) as client:
        assert client.get("/metrics").status_code == 401
        # No broker runs: the scrape still answers, and says which part is down.
        samples = scrape(client, {"Authorization": f"Bearer {token}"})
    assert value(samples, "docflow_up", component="broker") == 0
    assert value(samples, "docflow_up", component="database") == 1
    assert value(samples, "docflow_documents", status="queued") == 0


def test_the_indexer_reports_its_batches_as_the_index_stage(
        api: TestClient, store: Store, settings: Settings, broker: redis.Redis) -> None:
    runtime_module._current = None
    for n in range(3):
        process_document.apply(args=[_register(store, f"letter {n}".encode(), f"{n}.txt")])
    index = open_index(settings.search, settings.index_dir, writer=True,
                       database_url=settings.sqlalchemy_url, pool=settings.search_pool)
    try:
        assert index_pending(store, index, 500,
                             on_indexed=lambda n, s: batch_indexed(settings, n, s)) == 3
    finally:
        index.close()
    samples = scrape(api)
    assert value(samples, "docflow_stage_seconds_count", stage="index") == 1
    assert value(samples, "docflow_documents_indexed_total") == 3


def test_documents_are_counted_on_each_database(settings: Settings, any_store: Store) -> None:
    _register(any_store, b"one", "1.txt")
    second = _register(any_store, b"two", "2.txt")
    with any_store.db.write() as session:
        docs.mark_failed(session.get(docs.Document, second), "corrupt", "broken")
    with TestClient(create_app(settings, configure_logs=False)) as client:
        samples = scrape(client)
    assert value(samples, "docflow_documents", status="queued") == 1
    assert value(samples, "docflow_document_failures", code="corrupt") == 1
    assert value(samples, "docflow_up", component="database") == 1


def test_sent_tasks_waiting_for_the_timer_are_added_when_the_process_exits(
        broker: redis.Redis) -> None:
    kwargs = broker.get_connection_kwargs()
    url = f"redis://{kwargs['host']}:{kwargs['port']}/0"
    script = ("import sys; from docflow.observability.counters import shared, Increments\n"
              "inc = Increments(); inc.count('celery_task_sent_total', {'name': 't'}, 7)\n"
              "shared(sys.argv[1]).add_soon(inc)\n")  # exits at once, before the timer fires
    assert subprocess.run([sys.executable, "-c", script, url], timeout=60).returncode == 0
    samples = {(s.metric, tuple(s.labels.items())): s.value for s in Counters(url).read()}
    assert samples["celery_task_sent_total", (("name", "t"),)] == 7
