"""Logging to the console and to a file under the data dir's logs/ (api.log, celery.log, ...)."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s [%(processName)s %(process)d] %(name)s: %(message)s"


def configure_logging(log_dir: Path, filename: str, level: str = "INFO") -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        root.removeHandler(handler)
    formatter = logging.Formatter(FORMAT)
    console = logging.StreamHandler()
    # WatchedFileHandler reopens the file after logrotate moves it away.
    to_file = logging.handlers.WatchedFileHandler(log_dir / filename, encoding="utf-8")
    for handler in (console, to_file):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    # Let uvicorn's and celery's own loggers flow into ours instead of their own handlers.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    # One line per task or per HTTP call is noise at 500,000 documents; the database and
    # /api/batch-status say what happened to each document.
    for name in ("celery.app.trace", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
