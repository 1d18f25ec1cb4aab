"""The real API over real HTTP, in a thread of the test process (no broker: documents stay
queued, which is all an upload needs), and folders of small files to upload."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from docflow.api.app import create_app
from docflow.broker import free_port
from docflow.config import Settings


class ApiServer:
    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(settings, configure_logs=False), host="127.0.0.1",
                                port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="api", daemon=True)

    def start(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "API did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiServer]:
    settings.max_file_bytes = 50_000
    server = ApiServer(settings).start()
    yield server
    server.stop()


def make_tree(root: Path, count: int, *, per_dir: int = 25, size: int = 200) -> list[Path]:
    """`count` small files with distinct contents, `per_dir` to a folder, folders nested."""
    paths = []
    for i in range(count):
        folder = root / f"d{i // per_dir:03d}" / ("sub" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"file{i:05d}.txt"
        body = f"document {i} " * (size // 12 + 1)
        path.write_text(body[:size])
        paths.append(path)
    return paths
