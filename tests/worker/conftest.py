"""Fixtures the worker tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from docflow.broker import EmbeddedBroker
from docflow.config import Settings


@pytest.fixture
def broker(settings: Settings) -> Iterator[redis.Redis]:
    b = EmbeddedBroker(settings.broker_dir, settings.broker_url_file)
    b.start()
    client = redis.Redis.from_url(b.url)
    yield client
    client.close()
    b.stop()
