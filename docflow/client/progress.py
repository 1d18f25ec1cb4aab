"""The upload's progress on screen: a rich bar with rate and ETA on a terminal, a plain line
every few seconds when the output goes to a file or a pipe, nothing for library callers."""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from docflow.client.walk import FileCount

MB = 1024 * 1024


class UploadDisplay:
    """Shows nothing; the base for the ones that do. Totals may arrive from another thread."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.total: int | None = None
        self.total_final = False
        self.done = 0
        self.sent_bytes = 0
        self.retries = 0

    def start(self) -> None:
        self.started = time.monotonic()

    def stop(self) -> None:
        pass

    def set_total(self, count: FileCount) -> None:
        self.total, self.total_final = count.files, count.done

    def advance(self, files: int, sent_bytes: int = 0) -> None:
        self.done += files
        self.sent_bytes += sent_bytes

    def retried(self) -> None:
        self.retries += 1

    def note(self, text: str) -> None:
        pass

    def rates(self) -> tuple[float, float]:
        """Files done per second and megabytes sent per second, since the start."""
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return self.done / elapsed, self.sent_bytes / MB / elapsed

    def rate_text(self) -> str:
        files, mb = self.rates()
        text = f"{files:,.0f} files/s  {mb:,.1f} MB/s"
        return text + (f"  {self.retries} retries" if self.retries else "")


class RichUploadDisplay(UploadDisplay):
    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self._progress = Progress(
            TextColumn("[bold]uploading"), BarColumn(), MofNCompleteColumn(),
            TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), console=console)
        self._task = self._progress.add_task("upload", total=None, rate="counting files…")
        self._lock = threading.Lock()

    def start(self) -> None:
        super().start()
        self._progress.start()

    def stop(self) -> None:
        self._progress.update(self._task, rate=self.rate_text())
        self._progress.stop()

    def set_total(self, count: FileCount) -> None:
        with self._lock:
            super().set_total(count)
            self._progress.update(self._task, total=count.files)

    def advance(self, files: int, sent_bytes: int = 0) -> None:
        super().advance(files, sent_bytes)
        self._progress.update(self._task, advance=files, rate=self.rate_text())

    def note(self, text: str) -> None:
        self._progress.console.print(text)


class PlainUploadDisplay(UploadDisplay):
    """One line every `every` seconds: for logs of runs that take hours."""

    def __init__(self, console: Console, every: float = 5.0) -> None:
        super().__init__()
        self.console, self.every = console, every
        self._last = 0.0

    def start(self) -> None:
        super().start()
        self._last = time.monotonic()
        self.console.print("uploading: counting files…")

    def stop(self) -> None:
        self._line()

    def advance(self, files: int, sent_bytes: int = 0) -> None:
        super().advance(files, sent_bytes)
        if time.monotonic() - self._last >= self.every:
            self._line()

    def note(self, text: str) -> None:
        self.console.print(text)

    def _line(self) -> None:
        self._last = time.monotonic()
        total = self.total
        if total is None:
            self.console.print(f"uploading: {self.done:,} files  {self.rate_text()}")
            return
        percent = 100.0 * self.done / total if total else 100.0
        files_per_s, _ = self.rates()
        eta = ""
        if self.total_final and files_per_s > 0 and self.done < total:
            eta = f"  ETA {format_seconds((total - self.done) / files_per_s)}"
        self.console.print(f"uploading: {self.done:,}/{total:,}{'' if self.total_final else '+'}"
                           f" files ({percent:.1f}%)  {self.rate_text()}{eta}")


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def upload_display(console: Console, quiet: bool = False) -> UploadDisplay:
    if quiet:
        return UploadDisplay()
    return RichUploadDisplay(console) if console.is_terminal else PlainUploadDisplay(console)
