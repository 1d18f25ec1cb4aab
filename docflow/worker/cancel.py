"""Stopping a document's reading when its claim is gone (a user cancelled it, or another
worker took it over): the lease keeper notices at its next renewal and interrupts the reading
at its next Python instruction, so between OCR pages at the latest.

The interruption is an exception raised in the task's thread (`PyThreadState_SetAsyncExc`), only
while that thread is inside `Interruption.point()` (the pipeline call), never while it writes to
the database. `Cancelled` is a BaseException, so readers that turn every error into a
DocumentError let it through.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Cancelled(BaseException):
    """The document's claim is gone while it was being read: stop, write nothing."""


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None)


class Interruption:
    """One document's reading, which another thread may stop (`fire`): with Cancelled when its
    claim is gone, or with SoftTimeLimitExceeded past its own time limit (worker/memory.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread_id: int | None = None
        self.fired: type[BaseException] | None = None

    @contextmanager
    def point(self) -> Iterator[None]:
        """The code inside may be interrupted with Cancelled."""
        with self._lock:
            if self.fired is not None:
                raise self.fired
            self._thread_id = threading.get_ident()
        try:
            yield
        finally:
            with self._lock:
                if self._thread_id is not None:
                    _raise_in(self._thread_id, None)  # drop one fired too late to land
                self._thread_id = None

    def fire(self, exc: type[BaseException] = Cancelled) -> None:
        """Stop the reading now if it is running, or before it starts; the first reason wins."""
        with self._lock:
            if self.fired is not None:
                return
            self.fired = exc
            if self._thread_id is not None:
                _raise_in(self._thread_id, exc)
