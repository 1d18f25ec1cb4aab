"""What a worker process needs, opened once per process (never shared across a fork)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from docflow.config import Settings, get_settings
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
        settings = get_settings()
        _current = Runtime(settings=settings, store=open_store(settings), pid=os.getpid())
    return _current
