"""Following batches until every document is completed or failed: per batch and overall, with
an ETA from the recent processing rate. A server that stops answering is waited for."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from docflow.client.api import BatchState, DocflowApi
from docflow.client.errors import ClientError
from docflow.client.progress import format_seconds
from docflow.client.retry import RetryPolicy

POLL_POLICY = RetryPolicy(attempts=3, base_delay=0.5, max_delay=5.0)
RATE_WINDOW_S = 60.0
POLLS_IN_FLIGHT = 8


@dataclass
class MonitorView:
    batch_ids: list[str]
    states: dict[str, BatchState] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    eta_seconds: float | None = None
    elapsed: float = 0.0
    timed_out: bool = False

    def _sum(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.states.values())

    @property
    def total(self) -> int:
        return self._sum("total")

    @property
    def finished(self) -> int:
        return self._sum("completed") + self._sum("failed") + self._sum("cancelled")

    @property
    def percent(self) -> float:
        return round(100.0 * self.finished / self.total, 1) if self.total else 100.0

    @property
    def batches_done(self) -> int:
        return sum(s.done for s in self.states.values())

    @property
    def done(self) -> bool:
        return len(self.states) + len(self.unknown) == len(self.batch_ids) and all(
            s.done for s in self.states.values())

    def line(self) -> str:
        eta = ""
        if not self.done:
            eta = f"  ETA {format_seconds(self.eta_seconds)}" if self.eta_seconds else \
                "  ETA unknown"
        return (f"processing: {self.finished:,}/{self.total:,} documents ({self.percent:.1f}%)"
                f"  {self._sum('completed'):,} completed, {self._sum('failed'):,} failed, "
                f"{self._sum('processing'):,} processing, {self._sum('queued'):,} queued  "
                f"batches {self.batches_done}/{len(self.batch_ids)} done{eta}")


async def follow_batches(api: DocflowApi, batch_ids: Sequence[str], *,
                         display: MonitorDisplay | None = None, interval: float = 2.0,
                         timeout: float | None = None) -> MonitorView:
    """Poll the unfinished batches every `interval` seconds until all are done."""
    view = MonitorView(list(dict.fromkeys(batch_ids)))
    display = display or MonitorDisplay()
    started = time.monotonic()
    history: deque[tuple[float, int]] = deque()
    gate = asyncio.Semaphore(POLLS_IN_FLIGHT)
    warned = False

    async def poll(batch_id: str) -> None:
        nonlocal warned
        async with gate:
            try:
                state = await api.batch_status(batch_id, POLL_POLICY)
            except ClientError as exc:
                if not warned:
                    display.note(f"cannot read batch progress ({exc}); still trying")
                    warned = True
                return
        if state is None:
            view.unknown.add(batch_id)
            display.note(f"the server knows no batch {batch_id}; skipping it")
        else:
            view.states[batch_id] = state

    display.start(view)
    try:
        while True:
            # A finished batch stays finished: only the others are asked again.
            await asyncio.gather(*(poll(b) for b in view.batch_ids if b not in view.unknown
                                   and not (b in view.states and view.states[b].done)))
            now = time.monotonic()
            view.elapsed = now - started
            history.append((now, view.finished))
            while len(history) > 2 and now - history[0][0] > RATE_WINDOW_S:
                history.popleft()
            view.eta_seconds = _eta(history, view.total - view.finished)
            display.update(view)
            if view.done:
                break
            if timeout is not None and view.elapsed > timeout:
                view.timed_out = True
                break
            await asyncio.sleep(interval)
    finally:
        display.stop(view)
    return view


def _eta(history: deque[tuple[float, int]], remaining: int) -> float | None:
    (t0, d0), (t1, d1) = history[0], history[-1]
    if remaining <= 0 or t1 <= t0 or d1 <= d0:
        return None
    return remaining / ((d1 - d0) / (t1 - t0))


class MonitorDisplay:
    """Shows nothing (library callers); the base of the two that do."""

    def start(self, view: MonitorView) -> None:
        pass

    def update(self, view: MonitorView) -> None:
        pass

    def stop(self, view: MonitorView) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class PlainMonitorDisplay(MonitorDisplay):
    """For a log: every `every` seconds, and when everything is done, a line for each batch
    whose counts changed (at most `batch_lines`, those waiting longest first, so 500 batches do
    not flood it), then the overall line."""

    def __init__(self, console: Console, every: float = 10.0, batch_lines: int = 10) -> None:
        self.console, self.every, self.batch_lines = console, every, batch_lines
        self._last = 0.0
        self._shown: dict[str, tuple[int, int, int, int]] = {}  # counts last printed
        self._shown_at: dict[str, int] = {}  # the round a batch's line was last printed
        self._round = 0

    def update(self, view: MonitorView) -> None:
        if time.monotonic() - self._last < self.every and not view.done:
            return
        self._last = time.monotonic()
        self._round += 1
        changed = [s for b in view.batch_ids if (s := view.states.get(b)) is not None
                   and _counts(s) != self._shown.get(b)]
        changed.sort(key=lambda s: self._shown_at.get(s.batch_id, 0))  # stable: list order
        for state in changed[:self.batch_lines]:
            self.console.print(batch_line(state))
            self._shown[state.batch_id] = _counts(state)
            self._shown_at[state.batch_id] = self._round
        if len(changed) > self.batch_lines:
            self.console.print(f"… and {len(changed) - self.batch_lines:,} more batches "
                               "changed")
        self.console.print(view.line())

    def note(self, text: str) -> None:
        self.console.print(text)


class RichMonitorDisplay(MonitorDisplay):
    """A live table of the batches still running, above the overall line."""

    ROWS = 12

    def __init__(self, console: Console) -> None:
        self.console = console
        self._live = Live(console=console, refresh_per_second=4)

    def start(self, view: MonitorView) -> None:
        self._live.start()

    def update(self, view: MonitorView) -> None:
        running = [s for s in view.states.values() if not s.done][:self.ROWS]
        parts: list[Table | Text] = []
        if running:
            parts.append(batch_table(running, title="batches in progress"))
        parts.append(Text(view.line(), style="bold"))
        self._live.update(Group(*parts))

    def stop(self, view: MonitorView) -> None:
        self._live.stop()

    def note(self, text: str) -> None:
        self._live.console.print(text)


def _counts(state: BatchState) -> tuple[int, int, int, int]:
    return state.completed, state.failed, state.processing, state.total


def batch_line(state: BatchState) -> str:
    return (f"batch {state.batch_id}: {state.completed:,} completed, {state.failed:,} failed, "
            f"{state.processing:,} processing of {state.total:,} "
            f"({state.progress_percent:.1f}% done)")


def batch_table(states: Sequence[BatchState], title: str | None = None) -> Table:
    table = Table("batch", "documents", "completed", "failed", "processing", "queued", "done",
                  title=title)
    for s in states:
        table.add_row(s.batch_id, f"{s.total:,}", f"{s.completed:,}", f"{s.failed:,}",
                      f"{s.processing:,}", f"{s.queued:,}", f"{s.progress_percent:.1f}%")
    return table


def monitor_display(console: Console, quiet: bool = False) -> MonitorDisplay:
    if quiet:
        return MonitorDisplay()
    return RichMonitorDisplay(console) if console.is_terminal else PlainMonitorDisplay(console)
