from __future__ import annotations

import pytest

from docflow.store import Store


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every store test runs on SQLite and on PostgreSQL."""
    return any_store
