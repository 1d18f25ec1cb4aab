"""Messages stranded on a dead worker: found in the broker and put back in their queue at once.

With late acks, a message a worker has taken (running, or prefetched and waiting for a free
process) sits in the Redis transport's `unacked` hash (and `unacked_index`, by delivery time)
until the worker acknowledges it. When the worker dies outright, kombu gives the message back
only after the visibility timeout (the hard time limit + 2 minutes, 13 minutes by default).

So each worker lists the delivery tags it holds with its heartbeat, in a Redis set that expires
when its heartbeats stop (`publish_held`). A message taken longer ago than a worker may go
silent, and held by no live worker, is stranded (`stranded_tags`); `restore` puts it back where
kombu's own visibility restore would, in one Redis transaction, so it runs once and the original
task id and message are kept (no duplicate message; were the worker alive after all, its late
ack of a tag no longer there is a no-op, and the claim's attempt number fences a second run).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)
HELD_PREFIX = "docflow:held:"
UNACKED = "unacked"  # kombu's Redis transport keys (its defaults, which docflow keeps)
UNACKED_INDEX = "unacked_index"


def held_by_this_worker() -> set[str]:
    """Delivery tags of the messages this worker process has taken: running, waiting for a
    process, or due later (a countdown)."""
    from celery.worker import state

    requests = [request for held in (state.active_requests, state.reserved_requests,
                                     getattr(state, "scheduled_requests", ()))
                for request in held.copy()]
    tags = set()
    for request in requests:
        message = getattr(request, "message", None)
        tag = getattr(message, "delivery_tag", None)
        if tag is not None:
            tags.add(str(tag))
    return tags


def publish_held(client: Any, worker: str, tags: Iterable[str], ttl_seconds: float) -> None:
    """Say which messages `worker` holds, for `ttl_seconds` (renewed by each heartbeat)."""
    key = HELD_PREFIX + worker
    tags = list(tags)
    pipe = client.pipeline(transaction=True)
    pipe.delete(key)
    if tags:
        pipe.sadd(key, *tags)
    # An empty set cannot hold a TTL; a marker keeps "this worker is alive and holds nothing".
    pipe.sadd(key, "")
    pipe.expire(key, max(1, int(ttl_seconds)))
    pipe.execute()


def stranded_tags(client: Any, older_than: float, now: float | None = None) -> list[str]:
    """Delivery tags taken more than `older_than` seconds ago that no live worker holds."""
    cutoff = (time.time() if now is None else now) - older_than
    taken = [_text(t) for t in client.zrangebyscore(UNACKED_INDEX, 0, cutoff)]
    if not taken:
        return []
    held: set[str] = set()
    for key in client.scan_iter(match=HELD_PREFIX + "*", count=100):
        held |= {_text(t) for t in client.smembers(key)}
    return [tag for tag in taken if tag not in held]


def restore(channel: Any, tags: Iterable[str]) -> int:
    """Put stranded messages back at the head of their queue; returns how many were there."""
    client = channel.client
    restored = 0
    for tag in tags:
        if client.hexists(UNACKED, tag):
            channel.qos.restore_by_tag(tag, client)  # one transaction: at most one restorer
            restored += 1
    return restored


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
