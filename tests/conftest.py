"""Shared fixtures: settings in a temporary data dir, and the store opened on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from docflow.config import Settings
from docflow.store import Store, open_store
from docflow.store.blobs import StoredBlob
from docflow.store.documents import NewDocument


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings on a fresh data dir; the environment says the same for code that reads it."""
    data_dir = tmp_path / "data"
    for name in ("DOCFLOW_BROKER_URL", "DOCFLOW_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCFLOW_DATA_DIR", str(data_dir))
    return Settings(data_dir=data_dir)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = open_store(settings, migrate=True)
    yield s
    s.db.dispose()


def put(store: Store, content: bytes, filename: str = "doc.txt") -> NewDocument:
    """Store bytes as an original and describe the document that will point at it."""
    import io

    blob: StoredBlob = store.blobs.put_stream(io.BytesIO(content))
    return NewDocument(filename=filename, blob=blob)
