"""`docflow serve`: the API, an embedded broker, Celery workers and the housekeeper, supervised.

Each child runs in its own session, so Ctrl-C reaches only this process, which stops them in
order (API, workers, housekeeper, broker). A child that dies is started again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docflow.broker import EmbeddedBroker, free_port
from docflow.children import child_preexec
from docflow.config import Settings

if TYPE_CHECKING:
    from docflow.store.db import Database

log = logging.getLogger(__name__)
MAX_QUICK_RESTARTS = 5


@dataclass
class Child:
    name: str
    argv: list[str]
    stop_timeout: float
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_restarts: int = 0

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(self.argv, env=env, preexec_fn=child_preexec)
        self.started_at = time.monotonic()
        log.info("started %s (pid %d)", self.name, self.process.pid)

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0fs; killing it", self.name, self.stop_timeout)
            # The whole session: a Celery worker's pool processes go with it.
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        _kill_session_leftovers(self.process.pid)


def _kill_session_leftovers(sid: int) -> None:
    """Kill anything still in a stopped child's session (e.g. an orphaned pool process)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, signal.SIGKILL)


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def child_env(settings: Settings, broker_url: str) -> dict[str, str]:
    """The environment every child starts with: the same store and broker, and for the API
    the address it listens on (DOCFLOW_AUTH=auto decides from it)."""
    env = dict(os.environ, DOCFLOW_DATA_DIR=str(settings.resolved_data_dir),
               DOCFLOW_BROKER_URL=broker_url, DOCFLOW_LISTEN_HOST=settings.listen_host)
    if settings.database_url:
        env["DOCFLOW_DATABASE_URL"] = settings.database_url
    return env


def credentials_ready(db: Database, settings: Settings) -> bool:
    """False (and says how to fix it) when the API would need credentials nobody has."""
    from docflow.auth.modes import credentials_required
    from docflow.auth.startup import HOW_TO_CREATE, check_credentials_at_start, has_credentials
    from docflow.auth.tokens import TokenError

    try:
        check_credentials_at_start(db, settings)
    except TokenError as exc:  # a bootstrap token too short, or the example's placeholder
        log.error("%s", exc)
        return False
    if not credentials_required(settings) or has_credentials(db):
        return True
    log.error("docflow will not start on %s without credentials: anyone who can reach that "
              "address could read and change every document (DOCFLOW_AUTH=%s). %s Or listen "
              "on 127.0.0.1 only, or set DOCFLOW_AUTH=off to serve without authentication.",
              settings.listen_host, settings.auth.value, HOW_TO_CREATE)
    return False


def serve(settings: Settings, host: str, port: int, concurrency: int,
          on_ready: Callable[[str], None] | None = None) -> int:
    settings.ensure_dirs()
    from docflow.store import open_store  # imported late: logging is configured first

    if free_port(host, port) != port:
        log.error("port %d on %s is in use: pick another with --port", port, host)
        return 2
    # The API decides from its listen address whether DOCFLOW_AUTH=auto needs credentials.
    settings = settings.model_copy(update={"listen_host": host})
    store = open_store(settings, migrate=True)
    try:
        if not credentials_ready(store.db, settings):
            return 2
    finally:
        store.db.dispose()

    stop = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            return
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    broker: EmbeddedBroker | None = None
    broker_url = settings.broker_url
    if not broker_url:
        broker = EmbeddedBroker(settings.broker_dir, settings.broker_url_file)
        broker_url = broker.start()

    env = child_env(settings, broker_url)
    children = [
        Child("api", _python("uvicorn", "--factory", "docflow.api.app:create_app",
                             "--host", host, "--port", str(port),
                             "--timeout-graceful-shutdown", "5"), stop_timeout=10),
        Child("worker", _python("docflow", "worker", "--concurrency", str(concurrency)),
              stop_timeout=20),
        Child("housekeeper", _python("docflow", "housekeeper"), stop_timeout=10),
    ]
    url = f"http://{host}:{port}"
    try:
        for child in children:
            child.start(env)
        if on_ready is not None:
            threading.Thread(target=on_ready, args=(url,), daemon=True).start()
        log.info("docflow is up on %s (API docs at %s/docs); press Ctrl-C to stop", url, url)
        while not stop.wait(1.0):
            if broker is not None and not broker.alive():
                log.warning("the embedded broker exited; starting it again from its "
                            "append-only file")
                if broker.start() != broker_url:
                    log.error("the broker's port was taken; stopping docflow")
                    return 1
            for child in children:
                code = child.exited()
                if code is None:
                    continue
                quick = time.monotonic() - child.started_at < 10
                child.quick_restarts = child.quick_restarts + 1 if quick else 0
                if child.quick_restarts > MAX_QUICK_RESTARTS:
                    log.error("%s keeps exiting (last code %s); stopping docflow", child.name,
                              code)
                    return 1
                log.warning("%s exited with code %s; starting it again", child.name, code)
                child.start(env)
        return 0
    finally:
        for child in children:
            child.stop()
        if broker is not None:
            broker.stop()
        log.info("docflow stopped")
