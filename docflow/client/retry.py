"""When to try a request again, and how long to wait: exponential backoff with jitter.

Connection errors, timeouts, 408, 425, 429 and every 5xx that can pass are retried; any other
answer is final. The jitter keeps many clients (or eight concurrent requests of one) from
retrying in lockstep.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from docflow.client.errors import ClientError, TransportFailed, UnexpectedAnswer

RETRY_STATUSES = frozenset({408, 425, 429})
# 5xx that no retry can change: not implemented, HTTP version, content negotiation, a loop, an
# extension or a network login (a captive portal) the server requires.
FINAL_5XX = frozenset({501, 505, 506, 508, 510, 511})
# A connection that broke or never formed, or an answer that is not docflow's; a malformed
# request (LocalProtocolError) is final.
RETRY_ERRORS: tuple[type[Exception], ...] = (httpx.TimeoutException, httpx.NetworkError,
                                             httpx.RemoteProtocolError, UnexpectedAnswer)
MAX_RETRY_AFTER = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8  # 1 try + 7 retries: about 1.5 minutes of waiting at most
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, retry: int, retry_after: float | None = None,
              rng: random.Random | None = None) -> float:
        """Seconds before retry number `retry` (0 for the first): half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** retry)
        wait = ceiling * (0.5 + 0.5 * (rng or random).random())
        if retry_after is not None:
            wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
        return wait

    @staticmethod
    def retryable_status(status: int) -> bool:
        return status in RETRY_STATUSES or (500 <= status <= 599 and status not in FINAL_5XX)

    @staticmethod
    def retryable_error(exc: BaseException) -> bool:
        return isinstance(exc, RETRY_ERRORS)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The Retry-After header, as seconds or an HTTP date; None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


RetryHook = Callable[[int, str, float], None]  # (retry number, why, seconds to wait)


async def send_with_retries(send: Callable[[], Awaitable[httpx.Response]], policy: RetryPolicy,
                            *, on_retry: RetryHook | None = None,
                            sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                            ) -> httpx.Response:
    """Call `send` until it answers with a final status or the attempts run out.

    Returns the last response (2xx, a final error, or a retryable status on the last try);
    raises TransportFailed when the last attempt could not get an answer at all, and the last
    attempt's own ClientError (UnexpectedAnswer) when it says more.
    """
    for attempt in range(policy.attempts):
        last = attempt == policy.attempts - 1
        try:
            response = await send()
        except Exception as exc:
            if not policy.retryable_error(exc) or (last and isinstance(exc, ClientError)):
                raise
            if last:
                raise TransportFailed(f"No answer after {policy.attempts} attempts: "
                                      f"{describe(exc)}.") from exc
            why, retry_after = describe(exc), None
        else:
            if last or not policy.retryable_status(response.status_code):
                return response
            why = f"HTTP {response.status_code}"
            retry_after = retry_after_seconds(response)
            await response.aclose()
        wait = policy.delay(attempt, retry_after)
        if on_retry is not None:
            on_retry(attempt + 1, why, wait)
        await sleep(wait)
    raise AssertionError("unreachable")
