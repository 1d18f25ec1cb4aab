"""Search keeps tenants apart: the PostgreSQL index filters hits and counts by the request's
tenant; the tantivy index, which holds no tenant yet, answers no keyword search once there
are tenants."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from docflow.api.app import create_app
from docflow.config import AuthMode, Settings
from docflow.search import open_index
from docflow.store import Document, DocumentStatus, Store, open_store
from docflow.store.documents import save_extraction
from docflow.worker.indexer import index_pending
from tests.conftest import empty_postgres
from tests.tenants.conftest import _client_of


@pytest.fixture
def pg_store(settings: Settings, postgres_url: str) -> Iterator[Store]:
    settings.database_url, settings.search = postgres_url, "postgres"
    settings.auth = AuthMode.REQUIRED
    empty_postgres(postgres_url)
    store = open_store(settings, migrate=True)
    yield store
    store.db.dispose()


def _complete_and_index(settings: Settings, store: Store) -> None:
    """What the workers and the indexer do, in short: every document completed and indexed."""
    with store.db.write() as session:
        for doc in session.query(Document).all():
            save_extraction(session, doc.sha256, format="text", mime_type="text/plain",
                            text=f"quarterly report {doc.filename}", pages=[], page_count=1)
        session.execute(update(Document).values(status=DocumentStatus.COMPLETED))
    index = open_index("postgres", settings.index_dir, writer=True,
                       database_url=settings.sqlalchemy_url)
    try:
        assert index_pending(store, index, 100) == 3
    finally:
        index.close()


@pytest.mark.postgres
def test_postgres_search_finds_the_tenants_own_hits_and_counts(
        settings: Settings, pg_store: Store) -> None:
    with TestClient(create_app(settings, configure_logs=False)) as api:
        acme = _client_of(api, pg_store, "acme")
        globex = _client_of(api, pg_store, "globex")
        for client, name in ((acme, "acme-1.txt"), (acme, "acme-2.txt"),
                             (globex, "globex.txt")):
            r = client.post("/api/upload", files={"file": (name, name.encode(), "text/plain")})
            assert r.status_code == 202, r.text
        _complete_and_index(settings, pg_store)
        mine = acme.get("/api/search", params={"q": "quarterly report"}).json()
        assert mine["total"] == 2
        assert {h["filename"] for h in mine["hits"]} == {"acme-1.txt", "acme-2.txt"}
        theirs = globex.get("/api/search", params={"q": "report"}).json()
        assert (theirs["total"], [h["filename"] for h in theirs["hits"]]) == (1, ["globex.txt"])
        listed = globex.get("/api/search", params={"q": "*"}).json()
        assert listed["total"] == 1
