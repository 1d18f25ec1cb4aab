"""The tenant a request acts for, held in a context variable so that the store, not each
router, applies it (docflow.store.tenants filters every document and batch query by it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

# Tokens and users without a tenant, rows written before tenants existed, and an open laptop
# server all belong here: a name, not NULL, so every filter is one equality on an index.
DEFAULT_TENANT = "default"


@dataclass(frozen=True)
class TenantScope:
    """The tenant a request acts for; every document and batch query is filtered by it."""

    tenant: str


_scope: ContextVar[TenantScope | None] = ContextVar("docflow_tenant_scope", default=None)


def tenant_of(name: str | None) -> str:
    """The tenant a token's or user's `tenant` names: none is the default tenant."""
    return name or DEFAULT_TENANT


def current_scope() -> TenantScope | None:
    """The scope entered in this context; None for the system (workers, housekeeper, CLI)."""
    return _scope.get()


def current_tenant() -> str:
    """The tenant new rows belong to: the scope's, else the default tenant."""
    scope = _scope.get()
    return scope.tenant if scope is not None else DEFAULT_TENANT


@contextmanager
def tenant_scope(tenant: str) -> Iterator[TenantScope]:
    """Act for `tenant` in this context (and in threads run from a copy of it)."""
    scope = TenantScope(tenant)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)
