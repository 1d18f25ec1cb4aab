"""Search keeps tenants apart on both keyword backends: the tantivy index and the PostgreSQL
one filter hits, totals and counts per type by the request's tenant; a tantivy index written
before it kept tenants answers no keyword search on a server with tenants."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import tantivy
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


@pytest.fixture(params=["tantivy", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_store(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Store]:
    """A server requiring credentials, searching with one backend (tantivy on SQLite)."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        settings.database_url, settings.search = url, "postgres"
        empty_postgres(url)
    settings.auth = AuthMode.REQUIRED
    store = open_store(settings, migrate=True)
    yield store
    store.db.dispose()


def _complete_and_index(settings: Settings, store: Store, expected: int) -> None:
    """What the workers and the indexer do, in short: every document completed and indexed."""
    with store.db.write() as session:
        for doc in session.query(Document).all():
            save_extraction(session, doc.sha256, format="text", mime_type="text/plain",
                            text=f"quarterly report {doc.filename}", pages=[], page_count=1)
        session.execute(update(Document).values(status=DocumentStatus.COMPLETED,
                                                doc_type="letter"))
    index = open_index(settings.search, settings.index_dir, writer=True,
                       database_url=settings.sqlalchemy_url)
    try:
        assert index_pending(store, index, 100) == expected
    finally:
        index.close()


def test_keyword_search_finds_the_tenants_own_hits_and_counts(
        settings: Settings, backend_store: Store) -> None:
    with TestClient(create_app(settings, configure_logs=False)) as api:
        acme = _client_of(api, backend_store, "acme")
        globex = _client_of(api, backend_store, "globex")
        default = _client_of(api, backend_store, None)
        for client, name in ((acme, "2024/acme-1.txt"), (acme, "2024/acme-2.txt"),
                             (globex, "2024/globex.txt"), (default, "2024/plain.txt")):
            r = client.post("/api/upload", files={"file": (name, name.encode(), "text/plain")})
            assert r.status_code == 202, r.text
        _complete_and_index(settings, backend_store, 4)
        mine = acme.get("/api/search", params={"q": "quarterly report"}).json()
        assert mine["total"] == 2 and mine["facets"] == {"doc_type": {"letter": 2}}
        assert {h["filename"] for h in mine["hits"]} == {"acme-1.txt", "acme-2.txt"}
        theirs = globex.get("/api/search", params={"q": "report", "path_prefix": "2024/",
                                                   "sort": "date"}).json()
        assert (theirs["total"], [h["filename"] for h in theirs["hits"]]) == (1, ["globex.txt"])
        listed = globex.get("/api/search", params={"q": "*"}).json()
        assert listed["total"] == 1
        plain = default.get("/api/search", params={"q": "report", "mode": "keyword"}).json()
        assert [h["filename"] for h in plain["hits"]] == ["plain.txt"]
        assert plain["facets"] == {"doc_type": {"letter": 1}}


def test_an_index_from_before_tenants_answers_no_keyword_search_once_there_are_tenants(
        settings: Settings, store: Store) -> None:
    settings.auth = AuthMode.REQUIRED
    shutil.rmtree(settings.index_dir, ignore_errors=True)
    settings.index_dir.mkdir(parents=True)
    builder = tantivy.SchemaBuilder()  # the schema docflow wrote before tenants
    builder.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("text", stored=True)
    old = tantivy.Index(builder.build(), str(settings.index_dir)).writer(15_000_000, 1)
    old.add_document(tantivy.Document(id="x" * 32, text="acme's secret"))
    old.commit()
    old.wait_merging_threads()
    del old
    with TestClient(create_app(settings, configure_logs=False)) as api:
        acme = _client_of(api, store, "acme")
        default = _client_of(api, store, None)
        for client in (acme, default):
            for params in ({"q": "secret"}, {"q": "secret", "mode": "keyword"}):
                r = client.get("/api/search", params=params)
                assert (r.status_code, r.json()["code"]) == (503, "search_index_outdated"), r.text
                assert "rebuil" in r.json()["message"]
