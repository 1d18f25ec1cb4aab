"""GET /metrics: Prometheus text computed at scrape time from the database and the broker.

Gauges (documents by status, failures by code, queue lengths, workers) are read from the
database and the broker when Prometheus asks, and counters and histograms of tasks and stages
from the broker's shared counters (docflow.observability.counters). Every API process on every
host answers with the same numbers, so scrape one of them (or take `max` across them).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator

import redis
from fastapi import APIRouter, Request
from fastapi.responses import Response
from opentelemetry.instrumentation.utils import suppress_instrumentation
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from docflow.config import Settings
from docflow.observability.counters import Sample, shared
from docflow.store import Store
from docflow.store.activity import failed_by_code
from docflow.store.counts import status_totals
from docflow.store.models import DocumentStatus
from docflow.store.workers import list_workers

log = logging.getLogger(__name__)

# Celery's queue keys in the broker (Redis transport: one list per queue).
QUEUES = ("default", "ocr")

# What each shared counter is, for HELP lines; a name not here is still reported.
COUNTER_HELP = {
    "celery_task_sent_total": "Tasks sent to the broker, by task name, queue and sending host.",
    "celery_task_succeeded_total": "Tasks that returned, by task name, queue and host.",
    "celery_task_failed_total": "Tasks that raised, by task name, queue and host.",
    "celery_task_retried_total": "Tasks sent again after a transient error.",
    "docflow_documents_ended_total": "Documents that reached completed or failed, by status "
                                     "and error code (a document processed again counts again).",
    "docflow_pages_read_total": "Pages read from documents that completed.",
    "docflow_pages_ocr_total": "Pages of completed documents whose text came from OCR.",
    "docflow_processed_bytes_total": "Bytes of the originals of documents that ended.",
    "docflow_documents_indexed_total": "Documents written to the search index.",
}
HISTOGRAM_HELP = {
    "celery_task_runtime": "Seconds a task ran, by task name, queue and host.",
    "docflow_stage_seconds": "Seconds per pipeline stage of a document: detect, extract, ocr "
                             "(part of extract), classify, fields; and index, per batch.",
}


class DocflowCollector(Collector):
    """Reads the numbers when Prometheus scrapes, so no process has to keep them."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings

    def collect(self) -> Iterator[Metric]:
        # A scrape every few seconds would otherwise make a trace of its queries each time.
        with suppress_instrumentation():
            yield from self._collect()

    def _collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("docflow_up", "Whether the part answered this scrape (1) or "
                               "not (0).", labels=["component"])
        try:
            yield from self._from_database()
            up.add_metric(["database"], 1)
        except Exception as exc:
            log.warning("metrics: the database did not answer: %s", exc)
            up.add_metric(["database"], 0)
        try:
            yield from self._from_broker()
            up.add_metric(["broker"], 1)
        except (redis.RedisError, OSError) as exc:
            log.warning("metrics: the broker did not answer: %s", exc)
            up.add_metric(["broker"], 0)
        yield up

    def _from_database(self) -> Iterator[Metric]:
        with self.store.db.read() as session:
            by_status = status_totals(session)  # counters, not a count of documents
            by_code = failed_by_code(session)
            workers = list_workers(session, self.settings.worker_stale_seconds)
        documents = GaugeMetricFamily("docflow_documents", "Documents by status now.",
                                      labels=["status"])
        for status in DocumentStatus.ALL:
            documents.add_metric([status], by_status.get(status, 0))
        failures = GaugeMetricFamily("docflow_document_failures", "Failed documents now, by "
                                     "error code.", labels=["code"])
        for code, count in by_code.items():
            failures.add_metric([code], count)
        # Failed without a code: the failed documents' counter less those with one.
        uncoded = by_status.get(DocumentStatus.FAILED, 0) - sum(by_code.values())
        if uncoded > 0:
            failures.add_metric(["unknown"], uncoded)
        up = GaugeMetricFamily("celery_worker_up", "1 while a worker's heartbeat is fresh, 0 "
                               "when it stopped or was lost.", labels=["hostname", "worker"])
        active = GaugeMetricFamily("celery_worker_tasks_active", "Tasks a worker is running.",
                                   labels=["hostname", "worker"])
        states: dict[str, int] = defaultdict(int)
        for w in workers:
            up.add_metric([w.hostname, w.name], 1 if w.online else 0)
            active.add_metric([w.hostname, w.name], w.active_tasks)
            states[w.state] += 1
        by_state = GaugeMetricFamily("docflow_workers", "Workers seen lately, by state: online, "
                                     "lost (heartbeat stopped), stopped.", labels=["state"])
        for state in ("online", "lost", "stopped"):
            by_state.add_metric([state], states[state])
        yield from (documents, failures, up, active, by_state)

    def _from_broker(self) -> Iterator[Metric]:
        counters = shared(self.settings.effective_broker_url(),
                          self.settings.metrics_timeout_seconds)
        client = counters.client()
        if client is None:
            raise redis.ConnectionError("no broker is configured or running")
        pipe = client.pipeline(transaction=False)
        for queue in QUEUES:
            pipe.llen(queue)
        pipe.hlen("unacked")  # kombu's Redis transport: delivered, not yet acknowledged
        *lengths, unacked = pipe.execute()
        length = GaugeMetricFamily("celery_queue_length", "Messages waiting in a queue.",
                                   labels=["queue_name"])
        for queue, n in zip(QUEUES, lengths, strict=True):
            length.add_metric([queue], n)
        taken = GaugeMetricFamily("docflow_broker_unacked", "Messages delivered to workers and "
                                  "not yet acknowledged (tasks running or prefetched).")
        taken.add_metric([], unacked)
        yield from (length, taken)
        yield from families(counters.read())


def families(samples: list[Sample]) -> Iterator[Metric]:
    """Prometheus metric families from the shared counters' samples."""
    grouped: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        base = s.metric
        for suffix in ("_bucket", "_sum", "_count"):
            if s.metric.endswith(suffix) and s.metric.removesuffix(suffix) in HISTOGRAM_HELP:
                base = s.metric.removesuffix(suffix)
        grouped[base].append(s)
    for base, group in sorted(grouped.items()):
        if base in HISTOGRAM_HELP:
            yield _histogram(base, group)
        else:
            names = sorted({k for s in group for k in s.labels})
            counter = CounterMetricFamily(base.removesuffix("_total"),
                                          COUNTER_HELP.get(base, base), labels=names)
            for s in group:
                counter.add_metric([s.labels.get(k, "") for k in names], s.value)
            yield counter


def _histogram(base: str, group: list[Sample]) -> Metric:
    series: dict[tuple[tuple[str, str], ...], dict[str, object]] = defaultdict(dict)
    for s in group:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        entry = series[key]
        if s.metric.endswith("_bucket"):
            entry.setdefault("buckets", []).append((s.labels["le"], s.value))  # type: ignore[union-attr]
        elif s.metric.endswith("_sum"):
            entry["sum"] = s.value
    names = sorted({k for key in series for k, _ in key})
    histogram = HistogramMetricFamily(base, HISTOGRAM_HELP[base], labels=names)
    for key, entry in series.items():
        labels = dict(key)
        histogram.add_metric([labels.get(k, "") for k in names],
                             entry.get("buckets", []),  # type: ignore[arg-type]
                             float(entry.get("sum", 0.0)))  # type: ignore[arg-type]
    return histogram


def render(store: Store, settings: Settings) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DocflowCollector(store, settings))
    return generate_latest(registry)


router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                             "description": "Prometheus text exposition format"}})
async def metrics(request: Request) -> Response:
    """Documents by status, failures by code, queue lengths, workers up and lost, and counters
    of tasks, run times and seconds per pipeline stage, in Prometheus's text format. The same
    numbers from every API process (read from the database and the broker). Needs the `read`
    scope unless the server is open."""
    state = request.app.state.docflow
    body = await run_in_threadpool(render, state.store, state.settings)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
