"""Logging to the console and to a file under the data dir's logs/ (api.log, celery.log, ...).

At 500,000 documents the log is one line per document's end (docflow.observability.documents),
problems, and little else: no line per status poll, no line per task received or succeeded.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from datetime import UTC, datetime
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s [%(processName)s %(process)d] %(name)s: %(message)s"
FORMATS = ("text", "json")

# One line per task or per HTTP call is noise at 500,000 documents; the database, /metrics and
# /api/batch-status say what happened to each document. Celery's "Task ... received" and
# "... succeeded" lines are INFO from these loggers.
QUIET_LOGGERS = ("celery.app.trace", "celery.worker.strategy", "celery.worker.request",
                 "httpx", "httpcore")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; facts passed as `extra={"docflow": {...}}` become keys."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        facts = getattr(record, "docflow", None)
        if isinstance(facts, dict):
            line.update(facts)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class QuietAccessLog(logging.Filter):
    """Drop uvicorn's access lines for reads that went well (status polls every second from
    many clients); keep every change, every error and every refusal."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or len(args) != 5:
            return True
        _client, method, _path, _version, status = args
        try:
            ok = int(status) < 400  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return True
        return not (ok and method in ("GET", "HEAD"))


def configure_logging(log_dir: Path, filename: str, level: str = "INFO",
                      fmt: str = "text") -> None:
    if fmt not in FORMATS:
        raise ValueError(f"DOCFLOW_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    log_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        root.removeHandler(handler)
    formatter = JsonFormatter() if fmt == "json" else logging.Formatter(FORMAT)
    console = logging.StreamHandler()
    # WatchedFileHandler reopens the file after logrotate moves it away.
    to_file = logging.handlers.WatchedFileHandler(log_dir / filename, encoding="utf-8")
    for handler in (console, to_file):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    # Let uvicorn's and celery's own loggers flow into ours instead of their own handlers, at
    # our level, whatever an earlier uvicorn.Config or logging.config call set on them.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
        lg.disabled = False
        lg.setLevel(logging.NOTSET)
    quiet(level)


def quiet(level: str = "INFO") -> None:
    """Silence the per-task and per-poll chatter, unless DEBUG asks for everything."""
    debug = level.upper() == "DEBUG"
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    for f in [f for f in access.filters if isinstance(f, QuietAccessLog)]:
        access.removeFilter(f)
    if not debug:
        access.addFilter(QuietAccessLog())
