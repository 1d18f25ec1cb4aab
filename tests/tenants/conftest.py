"""Two tenants on a server that requires credentials, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.auth.scopes import Scope
from docflow.auth.tokens import create_token
from docflow.config import AuthMode, Settings
from docflow.store import Store
from docflow.store.tenants import create_tenant


@pytest.fixture
def api(settings: Settings, any_store: Store) -> Iterator[TestClient]:
    settings.auth = AuthMode.REQUIRED
    with TestClient(create_app(settings, configure_logs=False)) as c:
        yield c


def _client_of(api: TestClient, store: Store, tenant: str | None) -> TestClient:
    with store.db.write() as session:
        if tenant is not None:
            create_tenant(session, tenant)
        token = create_token(session, Scope.ADMIN, tenant=tenant).token
    client = TestClient(api.app)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


@pytest.fixture
def acme(api: TestClient, any_store: Store) -> TestClient:
    """A client of the tenant "acme", with an admin token."""
    return _client_of(api, any_store, "acme")


@pytest.fixture
def globex(api: TestClient, any_store: Store) -> TestClient:
    """A client of the tenant "globex", with an admin token."""
    return _client_of(api, any_store, "globex")


@pytest.fixture
def default(api: TestClient, any_store: Store) -> TestClient:
    """A client whose token names no tenant: the default tenant."""
    return _client_of(api, any_store, None)
