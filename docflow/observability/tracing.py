"""OpenTelemetry: off unless DOCFLOW_OTEL_ENDPOINT (or OTEL_EXPORTER_OTLP_ENDPOINT) is set.

When on, the API (FastAPI), the tasks (Celery), the database (SQLAlchemy's engine tracer) and
the broker (Redis) are traced with the maintained instrumentations, and spans go to an OTLP/HTTP
collector. Celery's instrumentation carries the trace context in each task message's headers,
so a document's upload, its task on any worker host and its stages make one trace.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any

from celery import signals
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from sqlalchemy import Engine

from docflow.config import Settings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_provider: TracerProvider | None = None
_instrumented = False
_exporting = False
_traced_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def tracing_on(settings: Settings) -> bool:
    return bool(settings.otel_endpoint)


def tracing_started() -> bool:
    """Whether this process traces (setup_tracing found an endpoint, or a test's exporter)."""
    return _provider is not None


def setup_tracing(settings: Settings, exporter: SpanExporter | None = None) -> bool:
    """Start tracing in this process when an endpoint is set (or an `exporter` is given, as
    tests do); returns whether tracing is on. Safe to call again, and after a fork."""
    global _provider, _exporting
    if exporter is None and not tracing_on(settings):
        return False
    with _lock:
        if _provider is None:
            _provider = TracerProvider(resource=Resource.create(
                {SERVICE_NAME: settings.otel_service_name, "process.pid": os.getpid()}))
            trace.set_tracer_provider(_provider)
        if exporter is not None:
            # Tests read spans as they end; nothing to batch.
            _provider.add_span_processor(SimpleSpanProcessor(exporter))
        elif not _exporting:
            # After a fork the processor restarts its own thread; one is enough per process.
            _provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(settings)))
            _exporting = True
        _instrument_libraries()
    return True


def _otlp_exporter(settings: Settings) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint = (settings.otel_endpoint or "").rstrip("/")
    if not endpoint.endswith("/v1/traces"):
        endpoint += "/v1/traces"  # the base URL the OTLP variable names, as the SDK reads it
    return OTLPSpanExporter(endpoint=endpoint)


def _instrument_libraries() -> None:
    global _instrumented
    if _instrumented:
        return
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    CeleryInstrumentor().instrument()
    signals.before_task_publish.connect(_note_the_message, weak=False)
    RedisInstrumentor().instrument()
    _instrumented = True


# The tasks whose one argument is worth noting (docflow.worker.celery_app's names).
_ARGUMENT_ATTRIBUTE = {"docflow.process_document": "docflow.document_id",
                       "docflow.process_documents": "docflow.document_ids",
                       "docflow.ocr_part": "docflow.ocr_part_id"}


def _note_the_message(sender: str | None = None, body: Any = None, **_: Any) -> None:
    """An event per document sent, on the span that sends it (the upload's request; a batch
    upload's request sends thousands, so an event each rather than one attribute)."""
    attribute = _ARGUMENT_ATTRIBUTE.get(sender or "")
    span = trace.get_current_span()
    if attribute is None or not span.is_recording():
        return
    args = body[0] if isinstance(body, tuple | list) and body else None  # protocol 2
    if args:
        span.add_event("docflow.task_sent", {attribute: str(args[0]), "celery.task_name":
                                             str(sender)})


def trace_database(engine: Engine) -> None:
    """Trace the statements of the store's engine, when tracing is on.

    SQLAlchemyInstrumentor().instrument() wraps create_engine (docflow.store imported it
    before tracing starts) and imports SQLAlchemy's asyncio support (needs greenlet), so its
    engine tracer is attached to each engine instead: the same spans.
    """
    if _provider is None or engine in _traced_engines:
        return
    from opentelemetry.instrumentation.sqlalchemy import __version__
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    name = "opentelemetry.instrumentation.sqlalchemy"
    usage = get_meter(name, __version__).create_up_down_counter(
        "db.client.connections.usage", unit="connections")
    EngineTracer(trace.get_tracer(name, __version__), engine, usage)
    _traced_engines.add(engine)


def instrument_app(app: FastAPI, settings: Settings) -> None:
    """Trace the API's requests when tracing is on; the status polls are not worth a trace."""
    if _provider is None and not setup_tracing(settings):
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=_provider,
        excluded_urls="/health,/metrics,/api/task-status/.*,/api/batch-status/.*")
