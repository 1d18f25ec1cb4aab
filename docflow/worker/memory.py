"""A memory bound and time limits for one document, watched by one thread per process.

Memory: the watch samples the process's resident memory while a document is read, and when the
document has made it grow past the limit fails it as `too_large` and ends the process. A reader
cannot be stopped half-way through a C call (PDFium inflating a content stream, an image
decoder), and an address-space limit breaks thread arenas of PDFium and onnxruntime; so the
process is the unit: the reason is written to the database first (so the reconciler never sends
the document again), then the process exits and Celery's pool starts a fresh one, which goes on
with the next documents. The message is redelivered (`reject_on_worker_lost`) and finds the
document failed.

Time (a document of a task that carries several, worker/groups.py): Celery's time limits are per
task, so each such document gets its own here. At the soft limit its reading is interrupted
(`on_soft`, worker/cancel.py); past the hard limit, stuck in a C call, it is failed as timeout and
the process ends, as above.

One thread serves every watch of the process: a thread started per document cost more than a
small document's reading.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import psutil

log = logging.getLogger(__name__)
EXIT_CODE = 75  # the pool process ended on purpose (EX_TEMPFAIL); Celery replaces it
SAMPLE_SECONDS = 0.05  # PDFium allocates ~1 GB/s at most: the overshoot stays ~50 MB

_process: tuple[int, psutil.Process] | None = None


def _resident_mb() -> float:
    global _process
    if _process is None or _process[0] != os.getpid():  # a forked child measures itself
        _process = (os.getpid(), psutil.Process())
    return _process[1].memory_info().rss / (1024 * 1024)


def end_process(code: int) -> None:
    os._exit(code)


def too_large_message(limit_mb: int) -> str:
    return (f"Processing the document needed more than {limit_mb:,} MiB of memory (the "
            f"max_document_memory_mb limit); it may be a decompression bomb or far too large. "
            f"Split it, or raise the limit.")


@dataclass(frozen=True)
class TimeLimits:
    """A document's own soft and hard limits, counted from the start of its watch."""

    soft_seconds: float
    on_soft: Callable[[], None]  # ask the reading to stop (it may be in a C call)
    hard_seconds: float
    on_hard: Callable[[], None]  # record the timeout; then the process ends


@dataclass(eq=False)
class _Watch:
    limit_mb: int
    on_exceeded: Callable[[float], None]
    sample_seconds: float
    resident_mb: Callable[[], float]
    exit: Callable[[int], object]
    limits: TimeLimits | None
    baseline_mb: float = 0.0
    next_sample: float = float("inf")
    soft_at: float = float("inf")
    hard_at: float = float("inf")
    done: threading.Event | None = None  # set once the watch has acted

    def due(self) -> float:
        return min(self.next_sample, self.soft_at, self.hard_at)


class _Watchdog:
    """The one thread of a process that watches every document it is reading."""

    def __init__(self) -> None:
        self._watches: list[_Watch] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def add(self, watch: _Watch) -> None:
        with self._changed:
            self._watches.append(watch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="document-watchdog",
                                                daemon=True)
                self._thread.start()
            self._changed.notify()

    def drop(self, watch: _Watch) -> None:
        with self._changed:
            if watch in self._watches:
                self._watches.remove(watch)

    def _run(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                due = [w for w in self._watches if w.due() <= now]
                if not due:
                    wait = min((w.due() for w in self._watches), default=float("inf"))
                    self._changed.wait(None if wait == float("inf") else max(0.001, wait - now))
                    continue
            for watch in due:
                try:
                    self._check(watch, now)
                except Exception:  # this thread must outlive any one document's watch
                    log.exception("the document watchdog could not check a document")
                    self.drop(watch)

    def _check(self, watch: _Watch, now: float) -> None:
        with self._changed:
            if watch not in self._watches:  # the document ended meanwhile
                return
        if now >= watch.hard_at:
            assert watch.limits is not None
            self._end(watch, "took longer than its hard time limit", watch.limits.on_hard)
            return
        if now >= watch.soft_at:
            watch.soft_at = float("inf")
            assert watch.limits is not None
            try:
                watch.limits.on_soft()
            except Exception:
                log.exception("could not interrupt a document past its soft time limit")
        if now >= watch.next_sample:
            used = watch.resident_mb()
            watch.next_sample = now + watch.sample_seconds
            if used - watch.baseline_mb > watch.limit_mb:
                log.error("resident memory grew from %.0f to %.0f MiB on one document, past "
                          "the limit of %d MiB", watch.baseline_mb, used, watch.limit_mb)
                self._end(watch, "used too much memory", lambda: watch.on_exceeded(used))

    def _end(self, watch: _Watch, why: str, record: Callable[[], None]) -> None:
        """Record the document's failure, then end the process (Celery's pool replaces it)."""
        with self._changed:
            if watch not in self._watches:  # the document ended meanwhile
                return
            self._watches.remove(watch)
        log.error("a document %s; failing it and replacing this worker process", why)
        try:
            record()
        except Exception:  # not recorded: the claim's max_attempts stops it after a few deaths
            log.exception("could not record the document's failure")
        finally:
            for handler in logging.getLogger().handlers:
                with contextlib.suppress(Exception):  # a closed stream must not keep us alive
                    handler.flush()
            if watch.done is not None:
                watch.done.set()
            watch.exit(EXIT_CODE)


_watchdog: tuple[int, _Watchdog] | None = None
_watchdog_lock = threading.Lock()


def watchdog() -> _Watchdog:
    """This process's watchdog (a forked child starts its own)."""
    global _watchdog
    with _watchdog_lock:
        if _watchdog is None or _watchdog[0] != os.getpid():
            _watchdog = (os.getpid(), _Watchdog())
        return _watchdog[1]


def _after_fork_in_child() -> None:
    global _watchdog_lock
    _watchdog_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


class MemoryGuard:
    """`with MemoryGuard(limit_mb, on_exceeded):` around one document's work. When resident
    memory has grown more than `limit_mb` over what it was at the start (what this document
    takes, not what the process held before), `on_exceeded` (given the resident MiB) records
    the failure; then the process ends with `EXIT_CODE`. A limit of 0 turns the guard off.

    With `limits`, the document also has its own time limits (TimeLimits)."""

    def __init__(self, limit_mb: int, on_exceeded: Callable[[float], None], *,
                 sample_seconds: float = SAMPLE_SECONDS,
                 resident_mb: Callable[[], float] = _resident_mb,
                 exit: Callable[[int], object] | None = None,
                 limits: TimeLimits | None = None) -> None:
        self.limit_mb = limit_mb
        self.acted = threading.Event()  # the watch failed the document and ended the process
        self._watch = _Watch(limit_mb, on_exceeded, sample_seconds, resident_mb,
                             exit or (lambda code: end_process(code)), limits, done=self.acted)
        self.watching = False

    @property
    def baseline_mb(self) -> float:
        return self._watch.baseline_mb

    def __enter__(self) -> MemoryGuard:
        watch = self._watch
        now = time.monotonic()
        if self.limit_mb > 0:
            watch.baseline_mb = watch.resident_mb()
            watch.next_sample = now + watch.sample_seconds
        if watch.limits is not None:
            watch.soft_at = now + watch.limits.soft_seconds
            watch.hard_at = now + max(watch.limits.hard_seconds, watch.limits.soft_seconds)
        if watch.due() < float("inf"):
            watchdog().add(watch)
            self.watching = True
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.watching:
            watchdog().drop(self._watch)
