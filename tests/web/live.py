"""Helpers for the live-event tests: the real app on uvicorn in a thread, and an SSE reader."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import httpx
import uvicorn

from docflow.api.app import create_app
from docflow.broker import free_port
from docflow.config import Settings


class Server:
    """One API process (its own app, pollers and connection pool) on a free port."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(settings, configure_logs=False), host="127.0.0.1",
                                port=self.port, log_level="warning",
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the API did not start"
            assert self.thread.is_alive(), "the API thread ended"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


class EventReader:
    """Reads a text/event-stream on a thread; events wait in a queue for the test."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.response: httpx.Response | None = None
        self.opened = threading.Event()
        self._skipped: list[dict[str, Any]] = []
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=120))
        self._thread = threading.Thread(target=self._read, args=(url, headers or {}),
                                        daemon=True)
        self._thread.start()
        assert self.opened.wait(30), "the event stream did not open"

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers={"Accept": "text/event-stream",
                                                          **headers}) as response:
                self.response = response
                self.opened.set()
                event: dict[str, Any] = {}
                for line in response.iter_lines():
                    if line == "":
                        if "data" in event:
                            self.events.put(event)
                        event = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        event[name] = value.removeprefix(" ")
        except (httpx.HTTPError, RuntimeError):
            pass  # closed by the test
        finally:
            self.opened.set()

    def next(self, kind: str, timeout: float = 30) -> dict[str, Any]:
        """The next event of this kind; events of other kinds wait for their own call."""
        for event in self._skipped:
            if event.get("event") == kind:
                self._skipped.remove(event)
                return event
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no {kind} event within {timeout}s"
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event.get("event") == kind:
                return event
            self._skipped.append(event)

    def pending(self) -> list[dict[str, Any]]:
        """Events received and not yet taken."""
        return [*self._skipped, *self.events.queue]

    def close(self) -> None:
        self._client.close()
