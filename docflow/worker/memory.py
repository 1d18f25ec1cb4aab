"""A memory bound for one document: a watchdog thread samples the process's resident memory
while a task works, and when the document has made it grow past the limit fails the document as
`too_large` and ends the process.

A reader cannot be stopped half-way through a C call (PDFium inflating a content stream, an image
decoder), and an address-space limit breaks thread arenas of PDFium and onnxruntime; so the
process is the unit: the reason is written to the database first (so the reconciler never sends
the document again), then the process exits and Celery's pool starts a fresh one, which goes on
with the next documents. The message is redelivered (`reject_on_worker_lost`) and finds the
document failed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from types import TracebackType

import psutil

log = logging.getLogger(__name__)
EXIT_CODE = 75  # the pool process ended on purpose (EX_TEMPFAIL); Celery replaces it
SAMPLE_SECONDS = 0.05  # PDFium allocates ~1 GB/s at most: the overshoot stays ~50 MB


def _resident_mb() -> float:
    return psutil.Process().memory_info().rss / (1024 * 1024)


def too_large_message(limit_mb: int) -> str:
    return (f"Processing the document needed more than {limit_mb:,} MiB of memory (the "
            f"max_document_memory_mb limit); it may be a decompression bomb or far too large. "
            f"Split it, or raise the limit.")


class MemoryGuard:
    """`with MemoryGuard(limit_mb, on_exceeded):` around one document's work. When resident
    memory has grown more than `limit_mb` over what it was at the start (what this document
    takes, not what the process held before), `on_exceeded` (given the resident MiB) records
    the failure; then the process ends with `EXIT_CODE`. A limit of 0 turns the guard off."""

    def __init__(self, limit_mb: int, on_exceeded: Callable[[float], None], *,
                 sample_seconds: float = SAMPLE_SECONDS,
                 resident_mb: Callable[[], float] = _resident_mb,
                 exit: Callable[[int], object] = os._exit) -> None:
        self.limit_mb, self.on_exceeded = limit_mb, on_exceeded
        self.sample_seconds, self.resident_mb, self.exit = sample_seconds, resident_mb, exit
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self.baseline_mb = 0.0

    def __enter__(self) -> MemoryGuard:
        if self.limit_mb > 0:
            self.baseline_mb = self.resident_mb()
            self._thread = threading.Thread(target=self._watch, name="memory-guard",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(self.sample_seconds):
            used = self.resident_mb()
            if used - self.baseline_mb > self.limit_mb:
                self._exceeded(used)
                return

    def _exceeded(self, used: float) -> None:
        log.error("resident memory grew from %.0f to %.0f MiB on one document, past the limit "
                  "of %d MiB; failing it as too_large and replacing this worker process",
                  self.baseline_mb, used, self.limit_mb)
        try:
            self.on_exceeded(used)
        except Exception:  # not recorded: the claim's max_attempts stops it after a few deaths
            log.exception("could not record the document as too large")
        finally:
            for handler in logging.getLogger().handlers:
                with contextlib.suppress(Exception):  # a closed stream must not keep us alive
                    handler.flush()
            self.exit(EXIT_CODE)
