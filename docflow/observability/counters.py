"""Counters and histograms that every process on every host adds to: kept in the broker.

Celery task counts, task run times and per-stage seconds happen in worker processes on many
hosts, while GET /metrics is answered by any API process. prometheus-client's multiprocess mode
only sums processes of one host, and a table would add a write to the database every task; the
broker (Redis/Valkey) is already shared by all of them, and a handful of HINCRBYFLOAT in one
round trip per task costs next to nothing. A counter lost with the broker's data starts again
from zero, which Prometheus's rate() reads as a counter reset.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis
from opentelemetry.instrumentation.utils import suppress_instrumentation
from prometheus_client.utils import floatToGoString

log = logging.getLogger(__name__)

KEY = "docflow:metrics"  # one hash: field "<metric>\t<labels as JSON>" -> value
# Seconds; upper bounds of histogram buckets (+Inf is implied).
TASK_RUNTIME_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
STAGE_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
HISTOGRAM_BUCKETS = {"celery_task_runtime": TASK_RUNTIME_BUCKETS,
                     "docflow_stage_seconds": STAGE_BUCKETS}

Labels = tuple[tuple[str, str], ...]
# HINCRBYFLOAT KEYS[1] for each (field, increment) pair of ARGV, in one round trip and command.
_ADD_ALL = """
for i = 1, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1]) end
return #ARGV / 2
"""


def _labels(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted((k, str(v)) for k, v in labels.items()))


@dataclass
class Increments:
    """What one event adds, sent to the broker in one round trip by `Counters.add`."""

    values: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def count(self, metric: str, labels: Mapping[str, str], by: float = 1.0) -> None:
        self.values[_field(metric, _labels(labels))] += by

    def observe(self, metric: str, labels: Mapping[str, str], value: float) -> None:
        """One histogram observation: its bucket (not cumulative here), sum and count."""
        bounds = HISTOGRAM_BUCKETS[metric]
        bucket = next((floatToGoString(b) for b in bounds if value <= b), "+Inf")
        key = _labels(labels)
        self.values[_field(metric + "_bucket", key + (("le", bucket),))] += 1
        self.values[_field(metric + "_sum", key)] += value
        self.values[_field(metric + "_count", key)] += 1


def _field(metric: str, labels: Labels) -> str:
    return f"{metric}\t{json.dumps(labels, separators=(',', ':'))}"


@dataclass(frozen=True)
class Sample:
    metric: str  # e.g. celery_task_sent_total, celery_task_runtime_bucket
    labels: dict[str, str]
    value: float


class Counters:
    """The shared counters in the broker at `url`; never raises for the broker."""

    def __init__(self, url: str | None, timeout: float = 2.0) -> None:
        self.url, self._timeout = url, timeout
        self._clients: dict[int, redis.Redis] = {}
        self._lock = threading.Lock()
        self._pending = Increments()
        self._pending_pid = os.getpid()
        self._timer: threading.Timer | None = None
        self._script: tuple[redis.Redis, Any] | None = None
        self._script_failed = False
        atexit.register(self.flush)  # what waits for the timer is not lost when the API stops

    def client(self) -> redis.Redis | None:
        """A connection to the broker for this process; None when no broker is configured."""
        if self.url is None:
            return None
        pid = os.getpid()  # a forked worker process opens its own connection
        with self._lock:
            if pid not in self._clients:
                self._clients = {pid: redis.Redis.from_url(
                    self.url, socket_timeout=self._timeout,
                    socket_connect_timeout=self._timeout)}
            return self._clients[pid]

    def add(self, increments: Increments) -> bool:
        """Add one event's numbers; False when the broker could not be reached (they are lost:
        metrics must never hold up or fail a document)."""
        client = self.client()
        if client is None or not increments.values:
            return False
        try:
            with suppress_instrumentation():  # metrics' own writes are not worth a span
                if self._script_failed:
                    pipe = client.pipeline(transaction=False)
                    for name, by in increments.values.items():
                        pipe.hincrbyfloat(KEY, name, by)
                    pipe.execute()
                else:
                    self._add_by_script(client, increments)
            return True
        except redis.RedisError as exc:
            log.debug("metrics not recorded: %s", exc)
            return False

    def _add_by_script(self, client: redis.Redis, increments: Increments) -> None:
        """All of an event's numbers in one command: a document adds about 18, and a
        pipeline of 18 HINCRBYFLOAT cost its worker more CPU than its reading."""
        args: list[str | float] = []
        for name, by in increments.values.items():
            args += (name, by)
        if self._script is None or self._script[0] is not client:
            self._script = (client, client.register_script(_ADD_ALL))
        try:
            self._script[1](keys=[KEY], args=args)
        except redis.exceptions.ResponseError:  # a server that runs no scripts
            log.info("the broker runs no scripts: metrics are added a command each")
            self._script_failed = True
            raise

    def add_soon(self, increments: Increments) -> None:
        """Add within a second, merged with others: a batch upload sends 10,000 tasks in one
        request, and one round trip each would slow it down."""
        with self._lock:
            pid = os.getpid()
            if self._pending_pid != pid:  # a forked child has no timer thread of its own
                self._pending, self._timer, self._pending_pid = Increments(), None, pid
            for name, by in increments.values.items():
                self._pending.values[name] += by
            if self._timer is None:
                self._timer = threading.Timer(1.0, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        with self._lock:
            if self._pending_pid != os.getpid():
                return  # a forked child's copy of its parent's pending counts: not its own
            pending, self._pending, self._timer = self._pending, Increments(), None
        self.add(pending)

    def read(self) -> list[Sample]:
        """Every counter as it stands, histogram buckets made cumulative; raises RedisError."""
        client = self.client()
        if client is None:
            return []
        raw = client.hgetall(KEY)
        return cumulative(_parse(raw.items()))


def _parse(items: Iterable[tuple[bytes, bytes]]) -> list[Sample]:
    samples = []
    for name, value in items:
        metric, _, labels = name.decode().partition("\t")
        try:
            pairs = json.loads(labels)
            samples.append(Sample(metric, {k: v for k, v in pairs}, float(value)))
        except (ValueError, TypeError):
            continue  # a field someone else wrote into our key: not ours to report
    return samples


def cumulative(samples: list[Sample]) -> list[Sample]:
    """Histogram buckets as Prometheus wants them: each counts every observation at or below
    its bound, and every bucket of a series is present."""
    out = [s for s in samples if not s.metric.endswith("_bucket")]
    series: dict[tuple[str, Labels], dict[str, float]] = defaultdict(dict)
    for s in samples:
        if s.metric.endswith("_bucket"):
            rest = {k: v for k, v in s.labels.items() if k != "le"}
            series[s.metric, _labels(rest)][s.labels.get("le", "+Inf")] = s.value
    for (metric, labels), by_bound in series.items():
        bounds = HISTOGRAM_BUCKETS.get(metric.removesuffix("_bucket"), ())
        running = 0.0
        for bound in [floatToGoString(b) for b in bounds] + ["+Inf"]:
            running += by_bound.get(bound, 0.0)
            out.append(Sample(metric, {**dict(labels), "le": bound}, running))
    return out


_shared: Counters | None = None
_shared_lock = threading.Lock()


def shared(url: str | None, timeout: float = 2.0) -> Counters:
    """This process's Counters for the broker at `url` (made again when the URL changes)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.url != url:
            _shared = Counters(url, timeout)
        return _shared
