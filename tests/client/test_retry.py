"""Retries: exponential backoff with jitter on connection errors, timeouts, 429 and 5xx."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import httpx
import pytest

from docflow.client.errors import TransportFailed
from docflow.client.retry import RetryPolicy, retry_after_seconds, send_with_retries


def test_backoff_grows_exponentially_with_jitter_up_to_a_cap() -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=8.0)
    rng = random.Random(1)
    for retry, ceiling in enumerate([0.5, 1, 2, 4, 8, 8, 8]):
        waits = [policy.delay(retry, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert max(waits) - min(waits) > ceiling / 4  # jittered, not in lockstep
    assert policy.delay(0, retry_after=5.0) == 5.0  # the server's Retry-After wins
    assert policy.delay(0, retry_after=10_000) == 120.0


@pytest.mark.parametrize(("status", "retry"), [(429, True), (500, True), (502, True),
                                               (503, True), (504, True), (408, True),
                                               (425, True), (507, True), (509, True),
                                               (520, True), (522, True), (524, True),
                                               (529, True), (599, True),
                                               (501, False), (505, False), (511, False),
                                               (400, False), (404, False), (413, False),
                                               (422, False), (200, False)])
def test_which_answers_are_retried(status: int, retry: bool) -> None:
    assert RetryPolicy.retryable_status(status) is retry


def test_which_errors_are_retried() -> None:
    request = httpx.Request("GET", "http://x")
    for exc in (httpx.ConnectError("refused", request=request),
                httpx.ReadTimeout("slow", request=request),
                httpx.RemoteProtocolError("closed", request=request),
                httpx.ReadError("reset", request=request)):
        assert RetryPolicy.retryable_error(exc)
    assert not RetryPolicy.retryable_error(ValueError("bug"))
    assert not RetryPolicy.retryable_error(httpx.UnsupportedProtocol("ftp", request=request))


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    dated = httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert retry_after_seconds(dated) == 0.0
    assert retry_after_seconds(httpx.Response(503)) is None


def _run(handler: Callable[[httpx.Request], httpx.Response], policy: RetryPolicy,
         ) -> tuple[httpx.Response | Exception, list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go() -> httpx.Response | Exception:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            try:
                return await send_with_retries(lambda: client.get("http://docflow/x"), policy,
                                               sleep=sleep)
            except Exception as exc:
                return exc

    return asyncio.run(go()), waits


def test_a_flaky_server_is_retried_until_it_answers() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused", request=request)
        if calls == 2:
            return httpx.Response(429, headers={"Retry-After": "2"})
        if calls == 3:
            return httpx.Response(503)
        return httpx.Response(200, json={"ok": True})

    result, waits = _run(handler, RetryPolicy(attempts=5, base_delay=0.1))
    assert isinstance(result, httpx.Response) and result.status_code == 200
    assert calls == 4 and len(waits) == 3 and waits[1] == 2.0


def test_a_final_answer_is_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(413, json={"code": "too_large", "message": "Too big."})

    result, waits = _run(handler, RetryPolicy())
    assert isinstance(result, httpx.Response) and result.status_code == 413
    assert calls == 1 and waits == []


def test_when_attempts_run_out_the_reason_is_kept() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result, waits = _run(down, RetryPolicy(attempts=3, base_delay=0.1))
    assert isinstance(result, TransportFailed) and result.code == "connection_failed"
    assert "3 attempts" in str(result) and "connection refused" in str(result)
    assert len(waits) == 2

    result, _ = _run(lambda r: httpx.Response(502), RetryPolicy(attempts=3, base_delay=0.1))
    assert isinstance(result, httpx.Response) and result.status_code == 502
