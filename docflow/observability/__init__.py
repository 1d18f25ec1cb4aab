"""Observability: Prometheus metrics, OpenTelemetry set-up, and the line a document's end logs.

    counters.py   counters and histograms shared by every process on every host (in the broker)
    metrics.py    GET /metrics, computed from the database and the broker at scrape time
    tasks.py      Celery task counters and tracing in workers, via Celery signals
    tracing.py    OpenTelemetry, off unless DOCFLOW_OTEL_ENDPOINT is set
    documents.py  a document's end: its log line, counters and stage spans
"""
