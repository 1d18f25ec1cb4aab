"""What a worker process builds for each tenant (its classifier, its learned field hints),
kept per tenant and rebuilt when that tenant's data changes.

Each entry is looked at again every `refresh_seconds`: a cheap stamp (a count and a time) is
read, and the entry rebuilt only when the stamp differs. At most `max_tenants` entries are kept;
the least recently used goes first (a worker serving many tenants holds only the busy ones).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
MAX_TENANTS = 32


@dataclass
class _Entry(Generic[T]):
    value: T
    stamp: Hashable
    checked: float


class TenantCache(Generic[T]):
    def __init__(self, refresh_seconds: float = 15.0, max_tenants: int = MAX_TENANTS,
                 on_drop: Callable[[T], None] | None = None) -> None:
        self.refresh_seconds = refresh_seconds
        self.max_tenants = max_tenants
        self._on_drop = on_drop
        self._entries: OrderedDict[str, _Entry[T]] = OrderedDict()

    def lookup(self, tenant: str, stamp: Callable[[], Hashable],
               build: Callable[[], T]) -> T:
        """`tenant`'s entry: built at first, rebuilt when `stamp()` changed since."""
        now = time.monotonic()
        entry = self._entries.get(tenant)
        if entry is not None:
            self._entries.move_to_end(tenant)
            if now - entry.checked < self.refresh_seconds:
                return entry.value
            current = stamp()
            entry.checked = now
            if current == entry.stamp:
                return entry.value
        else:
            current = stamp()
        value = build()
        if entry is not None:
            self._drop(entry)
        self._entries[tenant] = _Entry(value, current, now)
        while len(self._entries) > self.max_tenants:
            _, oldest = self._entries.popitem(last=False)
            self._drop(oldest)
        return value

    def holds(self, tenant: str) -> bool:
        return tenant in self._entries

    def clear(self) -> None:
        while self._entries:
            self._drop(self._entries.popitem()[1])

    def _drop(self, entry: _Entry[T]) -> None:
        if self._on_drop is not None:
            self._on_drop(entry.value)
