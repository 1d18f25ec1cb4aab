"""Fixtures the observability tests share: an embedded broker and an API on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.broker import EmbeddedBroker
from docflow.config import Settings
from docflow.store import Store


@pytest.fixture
def broker(settings: Settings) -> Iterator[redis.Redis]:
    """A real Valkey, recorded where the settings find it (as `docflow serve` does)."""
    b = EmbeddedBroker(settings.broker_dir, settings.broker_url_file)
    b.start()
    client = redis.Redis.from_url(b.url)
    yield client
    client.close()
    b.stop()


@pytest.fixture
def api(settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, configure_logs=False)) as client:
        yield client
