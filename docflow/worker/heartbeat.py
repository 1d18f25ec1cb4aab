"""Worker heartbeats in the database, and the worker's logging set-up, via Celery signals."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from celery import signals

from docflow.logs import configure_logging
from docflow.store import workers
from docflow.worker import unacked
from docflow.worker.runtime import HOSTNAME, fork_guard, runtime

log = logging.getLogger(__name__)


class Heartbeat:
    """A thread in the worker's main process that reports it alive every few seconds."""

    def __init__(self, name: str, concurrency: Callable[[], int], queues: list[str],
                 broker_url: str | None = None) -> None:
        self.name, self.concurrency, self.queues = name, concurrency, ",".join(queues)
        self.broker_url = broker_url
        self._broker: Any = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        try:
            self.beat()
        except Exception:  # a full disk or a database away: beat from the thread when back
            log.warning("first heartbeat failed; trying again every few seconds", exc_info=True)
        self._thread.start()

    def beat(self) -> None:
        rt = runtime()
        # First: a database slow to take the write must not make our messages look stranded.
        self.publish_held(max(rt.settings.worker_stale_seconds, 3 * rt.settings.heartbeat_seconds))
        with fork_guard, rt.store.db.write() as session:
            workers.heartbeat(session, name=self.name, hostname=HOSTNAME, pid=os.getpid(),
                              concurrency=self.concurrency(), queues=self.queues)

    def publish_held(self, ttl_seconds: float) -> None:
        """Tell the reconciler which broker messages this worker holds (worker/unacked.py)."""
        if not self.broker_url:
            return
        try:
            if self._broker is None:
                import redis

                self._broker = redis.Redis.from_url(self.broker_url, socket_timeout=5)
            unacked.publish_held(self._broker, self.name, unacked.held_by_this_worker(),
                                 ttl_seconds)
        except Exception:  # the broker is away: the reconciler restores nothing meanwhile
            log.warning("could not publish the messages this worker holds", exc_info=True)

    def _run(self) -> None:
        interval = runtime().settings.heartbeat_seconds
        while not self._stop.wait(interval):
            try:
                self.beat()
            except Exception:
                log.warning("heartbeat failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            with fork_guard, runtime().store.db.write() as session:
                workers.mark_stopped(session, self.name)
        except Exception:
            log.warning("could not record the worker as stopped", exc_info=True)


_heartbeat: Heartbeat | None = None


def most_tasks_at_once(controller: Any) -> int:
    """The worker's pool size; with --autoscale MAX,MIN its maximum (which a remote
    `celery control autoscale` may change), not the size it happens to have now."""
    scaler = getattr(controller, "autoscaler", None)
    if scaler is not None:
        return int(scaler.max_concurrency)
    return int(getattr(controller, "max_concurrency", None) or controller.concurrency)


@signals.setup_logging.connect
def _setup_logging(loglevel: Any = None, **_: Any) -> None:
    settings = runtime().settings
    configure_logging(settings.logs_path, "celery.log", settings.log_level,
                      settings.log_format)


@signals.worker_ready.connect
def _start_heartbeat(sender: Any, **_: Any) -> None:
    global _heartbeat
    queues = [q.name for q in sender.app.amqp.queues.consume_from.values()]
    controller = sender.controller
    _heartbeat = Heartbeat(sender.hostname, lambda: most_tasks_at_once(controller), queues,
                           broker_url=sender.app.conf.broker_url)
    _heartbeat.start()
    log.info("worker %s ready: concurrency %d, queues %s", sender.hostname,
             most_tasks_at_once(controller), ",".join(queues))


@signals.worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
