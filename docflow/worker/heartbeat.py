"""Worker heartbeats in the database, and the worker's logging set-up, via Celery signals."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from celery import signals

from docflow.logs import configure_logging
from docflow.store import workers
from docflow.worker.runtime import HOSTNAME, fork_guard, runtime

log = logging.getLogger(__name__)


class Heartbeat:
    """A thread in the worker's main process that reports it alive every few seconds."""

    def __init__(self, name: str, concurrency: int, queues: list[str]) -> None:
        self.name, self.concurrency, self.queues = name, concurrency, ",".join(queues)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def beat(self) -> None:
        rt = runtime()
        with fork_guard, rt.store.db.write() as session:
            workers.heartbeat(session, name=self.name, hostname=HOSTNAME, pid=os.getpid(),
                              concurrency=self.concurrency, queues=self.queues)

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


@signals.setup_logging.connect
def _setup_logging(loglevel: Any = None, **_: Any) -> None:
    settings = runtime().settings
    configure_logging(settings.logs_path, "celery.log", settings.log_level)


@signals.worker_ready.connect
def _start_heartbeat(sender: Any, **_: Any) -> None:
    global _heartbeat
    queues = [q.name for q in sender.app.amqp.queues.consume_from.values()]
    _heartbeat = Heartbeat(sender.hostname, sender.controller.concurrency, queues)
    _heartbeat.start()
    log.info("worker %s ready: concurrency %d, queues %s", sender.hostname,
             sender.controller.concurrency, ",".join(queues))


@signals.worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
