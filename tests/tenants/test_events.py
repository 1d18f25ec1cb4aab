"""Live events on a server with tenants: each tenant's stream carries its own documents only,
even though streams of one kind share a poller per process."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import update

from docflow.auth.scopes import Scope
from docflow.auth.tokens import create_token
from docflow.config import AuthMode, Settings
from docflow.store import Document, DocumentStatus, Store, open_store
from docflow.store.models import utcnow
from docflow.store.tenants import create_tenant
from tests.web.live import EventReader, Server


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[Server, Store, dict[str, str]]]:
    settings.auth = AuthMode.REQUIRED
    settings.events_poll_seconds = 0.1
    settings.events_settle_seconds = 0.5
    store = open_store(settings, migrate=True)
    tokens = {}
    with store.db.write() as session:
        for tenant in ("acme", "globex"):
            create_tenant(session, tenant)
            tokens[tenant] = create_token(session, Scope.UPLOAD, tenant=tenant).token
    live = Server(settings)
    yield live, store, tokens
    live.stop()
    store.db.dispose()


def test_each_tenants_stream_carries_only_its_own_documents(
        server: tuple[Server, Store, dict[str, str]]) -> None:
    live, store, tokens = server
    auth = {t: {"Authorization": f"Bearer {token}"} for t, token in tokens.items()}
    ids = {}
    for tenant in ("acme", "globex"):
        r = httpx.post(f"{live.url}/api/upload", headers=auth[tenant], timeout=30,
                       files={"file": (f"{tenant}.txt", f"{tenant} letter".encode())})
        assert r.status_code == 202, r.text
        ids[tenant] = r.json()["document_id"]
    # acme's stream starts the process's poller of every document; globex's comes second.
    readers = {t: EventReader(f"{live.url}/api/events", auth[t]) for t in ("acme", "globex")}
    try:
        for tenant in ("acme", "globex"):
            assert readers[tenant].response is not None
            with store.db.write() as session:
                session.execute(update(Document).where(Document.id == ids[tenant]).values(
                    status=DocumentStatus.COMPLETED, finished_at=utcnow()))
        for tenant in ("acme", "globex"):
            assert json.loads(readers[tenant].next("document")["data"])["id"] == ids[tenant]
    finally:
        for reader in readers.values():
            reader.close()


def test_each_tenants_stream_counts_only_its_own_documents(
        server: tuple[Server, Store, dict[str, str]]) -> None:
    live, store, tokens = server
    auth = {t: {"Authorization": f"Bearer {token}"} for t, token in tokens.items()}
    ids = {}
    for tenant, files in (("acme", 3), ("globex", 1)):
        for n in range(files):
            r = httpx.post(f"{live.url}/api/upload", headers=auth[tenant], timeout=30,
                           files={"file": (f"{tenant}{n}.txt", f"{tenant} letter {n}".encode())})
            assert r.status_code == 202, r.text
            ids.setdefault(tenant, []).append(r.json()["document_id"])
    readers = {t: EventReader(f"{live.url}/api/events", auth[t]) for t in ("acme", "globex")}
    try:
        assert json.loads(readers["acme"].next("progress")["data"])["total"] == 3
        assert json.loads(readers["globex"].next("progress")["data"])["total"] == 1
        with store.db.write() as session:
            session.execute(update(Document).where(Document.id == ids["globex"][0]).values(
                status=DocumentStatus.COMPLETED, finished_at=utcnow()))
        globex = json.loads(readers["globex"].next("progress")["data"])
        assert (globex["total"], globex["completed"], globex["done"]) == (1, 1, True)
        assert json.loads(readers["globex"].next("document")["data"])["id"] == ids["globex"][0]
        # acme's counters did not move: its stream sent nothing more.
        assert not [e for e in readers["acme"].pending() if e.get("event") == "progress"]
    finally:
        for reader in readers.values():
            reader.close()
