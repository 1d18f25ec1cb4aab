"""`docflow serve` never stops itself because a child keeps exiting (a full disk, a database
that is down): it starts the child again after a backoff that grows and is capped, forever,
and the child runs again as soon as what it lacked is back. Driven with a fake clock."""

from __future__ import annotations

import logging

import pytest

from docflow.serve import Supervisor, low_disk, restart_delay


class FlakyChild:
    """Exits at once for its first `failures` starts (code 1), then keeps running."""

    def __init__(self, name: str, failures: int) -> None:
        self.name, self.failures, self.starts = name, failures, 0

    def start(self, env: dict[str, str]) -> None:
        self.starts += 1

    def exited(self) -> int | None:
        return 1 if self.starts <= self.failures else None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_restart_delays_grow_and_stop_at_the_cap() -> None:
    assert [restart_delay(n, 30) for n in range(1, 10)] == [0, 1, 2, 4, 8, 16, 30, 30, 30]


def test_a_child_exiting_forty_times_is_started_again_until_it_runs(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    flaky, steady = FlakyChild("worker", failures=40), FlakyChild("api", failures=0)
    supervisor = Supervisor([flaky, steady], {}, backoff_max=30, clock=clock,
                            why=lambda: "the disk holding /data has only 0 MiB free")
    supervisor.start_all()
    waits: list[float] = []
    last_due = None
    with caplog.at_level(logging.WARNING, logger="docflow.serve"):
        for _ in range(10_000):  # one look per (fake) second, as serve's loop does
            supervisor.check()
            due = supervisor.waiting("worker")
            if due is not None and due != last_due:  # a new restart was scheduled just now
                waits.append(due - clock.now)
            last_due = due
            if flaky.starts > flaky.failures:
                break
            clock.now += 1
    assert flaky.starts == 41 and steady.starts == 1  # it never gave up, the other untouched
    assert max(waits) == 30 and waits[:5] == [1, 2, 4, 8, 16]
    assert clock.now - 1000 < 41 * 31  # capped: about 30 s between tries, not longer
    message = caplog.records[-1].getMessage()
    assert "worker exited with code 1" in message and "0 MiB free" in message
    for _ in range(100):  # once running, it is left alone
        clock.now += 1
        supervisor.check()
    assert flaky.starts == 41


def test_a_child_that_ran_a_while_before_exiting_is_started_at_once() -> None:
    clock = Clock()
    child = FlakyChild("housekeeper", failures=0)
    supervisor = Supervisor([child], {}, backoff_max=30, clock=clock)
    supervisor.start_all()
    for _ in range(3):
        clock.now += 3600
        child.failures = child.starts  # it exits once after an hour of work
        supervisor.check()
        assert supervisor.waiting("housekeeper") is None
    assert child.starts == 4


def test_a_child_that_cannot_even_be_started_is_tried_again_later() -> None:
    clock = Clock()

    class Unstartable(FlakyChild):
        def start(self, env: dict[str, str]) -> None:
            self.starts += 1
            if self.starts <= 3:
                raise OSError(28, "No space left on device")

    child = Unstartable("api", failures=0)
    supervisor = Supervisor([child], {}, backoff_max=30, clock=clock)
    supervisor.start_all()
    while child.starts <= 3:
        clock.now += 1
        supervisor.check()
    assert child.starts == 4 and supervisor.waiting("api") is None


def test_low_disk_says_how_much_is_left(tmp_path) -> None:
    assert low_disk(tmp_path, threshold=0) == ""
    assert "MiB free" in low_disk(tmp_path, threshold=1 << 62)


def test_a_broker_that_cannot_start_yet_is_tried_again_not_fatal() -> None:
    from docflow.serve import _restart_broker

    class Broker:
        def __init__(self, answers: list[object]) -> None:
            self.answers, self.port, self.stopped = answers, None, 0

        def start(self) -> str:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            self.port = int(str(answer).rsplit(":", 1)[1].split("/")[0])
            return str(answer)

        def stop(self) -> None:
            self.stopped += 1

    url = "redis://127.0.0.1:6400/0"
    broker = Broker([RuntimeError("exited at start: disk full"), "redis://127.0.0.1:6401/0",
                     url])
    assert not _restart_broker(broker, url, "")  # type: ignore[arg-type]
    assert not _restart_broker(broker, url, "")  # type: ignore[arg-type]  # port taken
    assert broker.stopped == 1 and broker.port == 6400  # it asks for its old port again
    assert _restart_broker(broker, url, "")  # type: ignore[arg-type]
