"""Fixtures the observability tests share: an API (the broker fixture is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.config import Settings
from docflow.store import Store


@pytest.fixture
def api(settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, configure_logs=False)) as client:
        yield client
