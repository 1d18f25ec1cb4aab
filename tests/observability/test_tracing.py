"""With tracing on, one document makes one trace: its upload, the task on the worker (reached
through the broker's message headers) with the document's id, and a span per stage."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from docflow.api.app import create_app
from docflow.config import Settings
from docflow.observability.tracing import setup_tracing
from docflow.store import Document, DocumentStatus, Store
from docflow.worker import runtime as runtime_module
from docflow.worker.celery_app import app as celery_app


@pytest.fixture
def spans(settings: Settings) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    assert setup_tracing(settings, exporter)
    return exporter


def test_tracing_is_off_without_an_endpoint(settings: Settings) -> None:
    assert settings.otel_endpoint is None
    assert setup_tracing(settings) is False


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


def test_an_upload_its_task_and_its_stages_make_one_trace(
        settings: Settings, store: Store, broker: redis.Redis,
        spans: InMemorySpanExporter) -> None:
    runtime_module._current = None
    before = celery_app.conf.broker_url
    celery_app.conf.broker_url = settings.effective_broker_url()
    try:
        doc_id = _upload_and_process(settings, store)
    finally:
        celery_app.conf.broker_url = before

    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    (run,) = [s for s in finished if s.name == "run/docflow.process_document"]
    assert run.attributes["docflow.document_id"] == doc_id
    assert run.attributes["docflow.status"] == "completed"
    upload = [s for s in finished if s.name.startswith("POST /api/upload")
              and s.parent is None]
    assert len(upload) == 1
    assert run.context.trace_id == upload[0].context.trace_id
    assert "apply_async/docflow.process_document" in _ancestors(run, by_id)
    assert upload[0].name in _ancestors(run, by_id)
    # Noted on the span current when the message left: the upload's, or its publish span
    # (which one depends on whether this process knows the task by name).
    senders = [upload[0], *[s for s in finished if s.name.startswith("apply_async/")]]
    sent = [e.attributes for s in senders for e in s.events if e.name == "docflow.task_sent"]
    assert sent == [{"docflow.document_id": doc_id,
                     "celery.task_name": "docflow.process_document"}]
    stages = [s for s in finished if s.name.startswith("docflow.")
              and s.parent is not None and s.parent.span_id == run.context.span_id]
    assert [s.name for s in sorted(stages, key=lambda s: s.start_time)] == [
        "docflow.detect", "docflow.extract", "docflow.classify", "docflow.fields"]
    assert all(s.attributes["docflow.document_id"] == doc_id for s in stages)
    assert all(run.start_time <= s.start_time <= s.end_time <= run.end_time for s in stages)
    # The database and the broker calls on the way are in the same trace.
    in_trace = {s.name for s in finished if s.context.trace_id == run.context.trace_id}
    assert any(name.startswith(("SELECT", "INSERT", "UPDATE")) for name in in_trace), in_trace


def _upload_and_process(settings: Settings, store: Store) -> str:
    """Upload a document through the API and let a worker in this process take it."""
    with TestClient(create_app(settings, configure_logs=False)) as api:
        reply = api.post("/api/upload", files={"file": ("inv.txt", b"INVOICE 12. Total $40")})
        assert reply.status_code == 202, reply.text
        doc_id: str = reply.json()["document_id"]
        with start_worker(celery_app, pool="solo", perform_ping_check=False,
                          shutdown_timeout=30):
            deadline = time.monotonic() + 60
            while True:
                with store.db.read() as session:
                    status = session.get(Document, doc_id).status
                if status == DocumentStatus.COMPLETED:
                    return doc_id
                assert time.monotonic() < deadline, f"still {status}"
                time.sleep(0.1)


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that keeps what it is sent."""

    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_standard_otlp_variable_sends_the_apis_spans_to_a_collector(
        settings: Settings, store: Store) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    script = (
        "from fastapi.testclient import TestClient\n"
        "from opentelemetry import trace\n"
        "from docflow.api.app import create_app\n"
        "from docflow.config import Settings\n"
        "with TestClient(create_app(Settings(), configure_logs=False)) as client:\n"
        "    assert client.get('/api/limits').status_code == 200\n"
        "assert trace.get_tracer_provider().force_flush(10_000)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCFLOW_", "OTEL_"))}
    env.update(DOCFLOW_DATA_DIR=str(settings.data_dir),
               OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{server.server_port}")
    try:
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, timeout=120)
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    paths = {(path, kind) for path, kind, _ in _Collector.received}
    assert paths == {("/v1/traces", "application/x-protobuf")}
    assert any(b"GET /api/limits" in body for _, _, body in _Collector.received)
