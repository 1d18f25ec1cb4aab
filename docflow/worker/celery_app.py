"""The Celery app. `celery -A docflow.worker.celery_app worker` and `docflow worker` both use it.

Policy (DESIGN.md): late acks, requeue on a lost worker, prefetch 1, no result backend (the
database holds results), soft and hard time limits, and processes recycled by count and memory.
"""

from __future__ import annotations

from celery import Celery

from docflow.config import Settings, get_settings

TASK_PROCESS_DOCUMENT = "docflow.process_document"
# Several small documents in one message (worker/groups.py), each processed as if alone.
TASK_PROCESS_DOCUMENTS = "docflow.process_documents"
TASK_TRAIN_CLASSIFIER = "docflow.train_classifier"
# Pages first..last of a long scanned PDF (docflow.store.ocr_parts); always on the ocr queue.
TASK_OCR_PART = "docflow.ocr_part"
# Light work (text layers, office files) and heavy work (OCR) wait in separate queues, so a
# batch of scans cannot starve small documents; `docflow worker -Q` picks which to consume.
DEFAULT_QUEUE = "default"
OCR_QUEUE = "ocr"
QUEUES = (DEFAULT_QUEUE, OCR_QUEUE)
# Used only to build an app that has nowhere to send; dispatch checks for a real broker first.
NO_BROKER = "redis://127.0.0.1:1/0"


def _transport_options(visibility_timeout: int) -> dict[str, int]:
    # Workers sweep for messages whose consumer died about ten times per visibility timeout
    # (kombu's default, every ~100 s, would leave short timeouts waiting far longer).
    interval = max(1, min(10, visibility_timeout // 10))
    throttle = max(1, min(10, visibility_timeout // (10 * interval)))
    return {"visibility_timeout": visibility_timeout, "unacked_restore_interval": interval,
            "unacked_restore_throttle": throttle}


def create_celery(settings: Settings) -> Celery:
    app = Celery("docflow", broker=settings.effective_broker_url() or NO_BROKER,
                 include=["docflow.worker.tasks", "docflow.worker.groups",
                          "docflow.worker.ocr_parts",
                          "docflow.worker.heartbeat"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        worker_max_tasks_per_child=settings.worker_max_tasks_per_child,
        worker_max_memory_per_child=settings.worker_max_memory_per_child_kb,
        task_default_queue=DEFAULT_QUEUE,
        task_routes={TASK_OCR_PART: {"queue": OCR_QUEUE}},
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        # Redelivery of an unacknowledged message waits this long; keep it above the hard limit
        # so a running task is never handed to a second worker.
        broker_transport_options=_transport_options(settings.visibility_timeout),
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2,
                                   "interval_step": 0.5, "interval_max": 1.0},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        # A lost broker connection must not interrupt running tasks: a task stopped with
        # SIGTERM mid-write leaves its database connection half-way through a statement. The
        # unacknowledged message comes back after the reconnect and its claim says it is done.
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app


app = create_celery(get_settings())

# Connect the worker's signal handlers (heartbeats, logging) wherever the app is loaded.
from docflow.observability import tasks as _observability  # noqa: E402, F401
from docflow.worker import heartbeat as _heartbeat  # noqa: E402, F401
