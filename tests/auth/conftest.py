"""An API that requires credentials, on SQLite and on PostgreSQL, and tokens to call it with."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from docflow.api.app import create_app
from docflow.auth.scopes import Scope
from docflow.auth.tokens import create_token
from docflow.config import AuthMode, Settings
from docflow.store import Store
from docflow.store.tenants import Tenant, create_tenant

MakeToken = Callable[..., str]


@pytest.fixture
def secured(settings: Settings, any_store: Store) -> Settings:
    """Settings of a server that requires credentials, on each database."""
    settings.auth = AuthMode.REQUIRED
    return settings


@pytest.fixture
def api(secured: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(secured, configure_logs=False)) as c:
        yield c


@pytest.fixture
def make_token(any_store: Store) -> MakeToken:
    """A new token of a scope (keyword arguments as create_token's); returns the token."""

    def make(scope: Scope | str, **kwargs: object) -> str:
        with any_store.db.write() as session:
            ensure_tenant(session, kwargs.get("tenant"))  # type: ignore[arg-type]
            return create_token(session, Scope(scope), **kwargs).token  # type: ignore[arg-type]

    return make


def ensure_tenant(session: Session, name: str | None) -> None:
    """Tokens and users name an existing tenant: make it on first use."""
    if name is not None and session.get(Tenant, name) is None:
        create_tenant(session, name)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_client(settings: Settings, **kwargs: object) -> TestClient:
    return TestClient(create_app(settings, configure_logs=False), **kwargs)  # type: ignore[arg-type]
