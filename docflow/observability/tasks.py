"""Celery task counters (celery-exporter's names) and tracing in worker processes, via signals.

Connected wherever docflow's Celery app is loaded (API, workers, housekeeper), so tasks sent
by any of them and run on any host add to the same shared counters.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from celery import signals

from docflow.config import Settings, get_settings
from docflow.observability.counters import Increments, shared
from docflow.observability.tracing import setup_tracing

log = logging.getLogger(__name__)

HOSTNAME = socket.gethostname()  # the host label: which machine sent or ran the task

_started: dict[str, float] = {}  # task id -> perf_counter at start, in this process
_settings: Settings | None = None


def _current_settings() -> Settings:
    # The API hands its settings over (use_settings); a worker reads its environment.
    global _settings
    if _settings is None:
        _settings = get_settings()
    return _settings


def use_settings(settings: Settings) -> None:
    """The settings this process's signals read (the API's; a worker reads its environment)."""
    global _settings
    _settings = settings


def _add(inc: Increments) -> None:
    settings = _current_settings()
    shared(settings.effective_broker_url(), settings.metrics_timeout_seconds).add(inc)


def _labels(name: str | None, queue: str | None) -> dict[str, str]:
    return {"name": name or "unknown", "queue": queue or "", "hostname": HOSTNAME}


def _queue_of(task: Any) -> str | None:
    info = getattr(getattr(task, "request", None), "delivery_info", None) or {}
    return info.get("routing_key")


@signals.before_task_publish.connect
def _sent(sender: str | None = None, routing_key: str | None = None, **_: Any) -> None:
    inc = Increments()
    inc.count("celery_task_sent_total", _labels(sender, routing_key))
    settings = _current_settings()
    shared(settings.effective_broker_url(), settings.metrics_timeout_seconds).add_soon(inc)


@signals.task_prerun.connect
def _prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _postrun(task_id: str | None = None, task: Any = None, state: str | None = None,
             **_: Any) -> None:
    started = _started.pop(task_id or "", None)
    labels = _labels(getattr(task, "name", None), _queue_of(task))
    inc = Increments()
    if started is not None:
        inc.observe("celery_task_runtime", labels, time.perf_counter() - started)
    if state == "SUCCESS":
        inc.count("celery_task_succeeded_total", labels)
    _add(inc)


@signals.task_failure.connect
def _failed(sender: Any = None, **_: Any) -> None:
    inc = Increments()
    inc.count("celery_task_failed_total", _labels(getattr(sender, "name", None),
                                                  _queue_of(sender)))
    _add(inc)


@signals.task_retry.connect
def _retried(sender: Any = None, request: Any = None, **_: Any) -> None:
    info = getattr(request, "delivery_info", None) or {}
    inc = Increments()
    inc.count("celery_task_retried_total", _labels(getattr(sender, "name", None),
                                                   info.get("routing_key")))
    _add(inc)


@signals.worker_process_init.connect
@signals.worker_init.connect
def _start_tracing(**_: Any) -> None:
    # Each pool process exports its own spans; a no-op unless an endpoint is set.
    try:
        setup_tracing(_current_settings())
    except Exception:
        log.exception("tracing could not start; the worker runs without it")
