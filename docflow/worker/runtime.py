"""What a worker process needs, opened once per process (never shared across a fork)."""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass

from docflow.config import Settings, get_settings
from docflow.observability.tracing import trace_database
from docflow.store import Store, open_store

HOSTNAME = socket.gethostname()


@dataclass
class Runtime:
    settings: Settings
    store: Store
    pid: int


_current: Runtime | None = None


def runtime() -> Runtime:
    """This process's runtime; a forked child opens its own database connections."""
    global _current
    if _current is None or _current.pid != os.getpid():
        if _current is not None:
            # The parent's connections are the parent's: drop them here without closing them.
            _current.store.db.engine.dispose(close=False)
        settings = get_settings()
        _current = Runtime(settings=settings, store=open_store(settings), pid=os.getpid())
        trace_database(_current.store.db.engine)  # a no-op unless tracing is on
    return _current


# A write transaction must never be open in one thread while another thread forks (Celery
# forks replacement pool processes from the worker's main process, where heartbeats write):
# the child would inherit SQLite's lock state mid-transaction and wait forever on the file.
fork_guard = threading.Lock()
os.register_at_fork(before=fork_guard.acquire, after_in_parent=fork_guard.release,
                    after_in_child=fork_guard.release)
