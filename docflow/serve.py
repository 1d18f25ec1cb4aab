"""`docflow serve`: the API, an embedded broker, Celery workers and the housekeeper, supervised.

Each child runs in its own session, so Ctrl-C reaches only this process, which stops them in
order (API, workers, housekeeper, broker). A child that dies is started again, forever: one that
keeps exiting (a full disk, a database that is down) waits longer each time, up to
`restart_backoff_max_seconds`, and runs again as soon as what it lacked is back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from docflow.broker import EmbeddedBroker, free_port
from docflow.children import child_preexec
from docflow.config import Settings

if TYPE_CHECKING:
    from docflow.store.db import Database

log = logging.getLogger(__name__)
QUICK_EXIT_SECONDS = 10.0  # a child that exits sooner than this after its start is failing
LOW_DISK_BYTES = 64 * 1024 * 1024


class Supervised(Protocol):
    name: str

    def start(self, env: dict[str, str]) -> None: ...

    def exited(self) -> int | None: ...


@dataclass
class Child:
    name: str
    argv: list[str]
    stop_timeout: float
    process: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(self.argv, env=env, preexec_fn=child_preexec)
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


def restart_delay(quick_exits: int, backoff_max: float) -> float:
    """Seconds to wait before starting a child again after `quick_exits` quick exits in a row:
    at once after the first, then 1, 2, 4 ... seconds, never more than `backoff_max`."""
    if quick_exits <= 1:
        return 0.0
    return min(backoff_max, 2.0 ** (quick_exits - 2))


@dataclass
class _Watch:
    started_at: float
    quick_exits: int = 0
    restart_at: float | None = None  # set while a child waits to be started again


class Supervisor:
    """Keeps children running: a child that exits is started again, after a backoff that grows
    while it keeps exiting quickly and is capped; it never gives up (a short resource comes
    back, and the service must come back with it). `check` is one look, called every second."""

    def __init__(self, children: Sequence[Supervised], env: dict[str, str], *,
                 backoff_max: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 why: Callable[[], str] = lambda: "") -> None:
        self.children, self.env, self.backoff_max = list(children), env, backoff_max
        self.clock, self.why = clock, why
        self._watch: dict[str, _Watch] = {}

    def start_all(self) -> None:
        for child in self.children:
            self._start(child, self.clock())

    def check(self) -> None:
        now = self.clock()
        for child in self.children:
            watch = self._watch[child.name]
            if watch.restart_at is not None:
                if now >= watch.restart_at:
                    self._start(child, now)
                continue
            code = child.exited()
            if code is None:
                continue
            quick = now - watch.started_at < QUICK_EXIT_SECONDS
            watch.quick_exits = watch.quick_exits + 1 if quick else 1
            self._again(child, watch, now, f"exited with code {code}")

    def waiting(self, name: str) -> float | None:
        """When the child `name` is due to start again (None while it runs)."""
        return self._watch[name].restart_at

    def _start(self, child: Supervised, now: float) -> None:
        watch = self._watch.setdefault(child.name, _Watch(started_at=now))
        watch.restart_at = None
        watch.started_at = now
        try:
            child.start(self.env)
        except OSError as exc:  # no memory or process slots to start it: the same, later
            watch.quick_exits += 1
            self._again(child, watch, now, f"could not be started ({exc})")

    def _again(self, child: Supervised, watch: _Watch, now: float, what: str) -> None:
        delay = restart_delay(watch.quick_exits, self.backoff_max)
        why = self.why()
        log.warning("%s %s%s; starting it again in %.0f s (%d quick exits in a row)",
                    child.name, what, f"; {why}" if why else "", delay, watch.quick_exits)
        watch.restart_at = now + delay
        if delay <= 0:
            self._start(child, now)


def low_disk(path: Path, threshold: int = LOW_DISK_BYTES) -> str:
    """A sentence when the disk holding `path` is (nearly) full, else ""."""
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return ""
    if free >= threshold:
        return ""
    return f"the disk holding {path} has only {free // (1024 * 1024)} MiB free"


def _kill_session_leftovers(sid: int) -> None:
    """Kill anything still in a stopped child's session (e.g. an orphaned pool process)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, signal.SIGKILL)


def _restart_broker(broker: EmbeddedBroker, url: str, why: str) -> bool:
    """Start the embedded broker again from its append-only file, on its old port (the
    children know that URL); False when it cannot start yet."""
    log.warning("the embedded broker exited; starting it again from its append-only file%s",
                f" ({why})" if why else "")
    try:
        if broker.start() == url:
            return True
        log.error("the broker's port %s is taken by another program; trying again later",
                  url.rsplit(":", 1)[1])
        broker.stop()
        broker.port = int(url.rsplit(":", 1)[1].split("/")[0])  # ask for the old port again
    except (RuntimeError, OSError) as exc:
        log.error("the embedded broker could not start (%s); trying again later", exc)
    return False


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
    if not credentials_required(settings) or has_credentials(db, settings):
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
    data_dir = settings.resolved_data_dir
    supervisor = Supervisor(children, env, backoff_max=settings.restart_backoff_max_seconds,
                            why=lambda: low_disk(data_dir))
    broker_retry_at = 0.0
    broker_failures = 0
    try:
        supervisor.start_all()
        if on_ready is not None:
            threading.Thread(target=on_ready, args=(url,), daemon=True).start()
        log.info("docflow is up on %s (API docs at %s/docs); press Ctrl-C to stop", url, url)
        while not stop.wait(1.0):
            if (broker is not None and not broker.alive()
                    and time.monotonic() >= broker_retry_at):
                if _restart_broker(broker, broker_url, low_disk(data_dir)):
                    broker_failures = 0
                else:
                    broker_failures += 1
                    broker_retry_at = time.monotonic() + restart_delay(
                        broker_failures + 1, settings.restart_backoff_max_seconds)
            supervisor.check()
        return 0
    finally:
        for child in children:
            child.stop()
        if broker is not None:
            broker.stop()
        log.info("docflow stopped")
