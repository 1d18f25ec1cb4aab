"""Tenants: whose documents are whose. The store filters every query by the tenant in scope,
so no router can forget it.

A request enters its principal's tenant (`tenant_scope`); while it is entered, every ORM
statement a session runs on documents, batches, document types and field labels (SELECT,
`Session.get`, UPDATE, DELETE, counts) gets `tenant_id = :tenant` added by the
`do_orm_execute` hook below, and new rows take that tenant. Outside a scope (workers, the
housekeeper, the CLI) nothing is filtered: they act for the system, and name the tenant where
it matters (a worker reads the types, hints and model of its document's tenant). Tokens and
users without a tenant act for the default tenant, "default", which holds every row written
before tenants existed and everything an open laptop server stores.
"""

from __future__ import annotations

import re
from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy import ColumnElement, String, event, select, true
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria

from docflow.store.db import Database
from docflow.store.models import (
    Base,
    Batch,
    Document,
    DocumentType,
    FieldLabel,
    UTCDateTime,
    utcnow,
)
from docflow.store.scope import DEFAULT_TENANT, current_scope

__all__ = ["DEFAULT_TENANT", "Tenant", "TenantError", "UnknownTenant", "create_tenant",
           "in_scope", "list_tenants", "require_tenant", "several_tenants",
           "tenants_apart"]

TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")


class Tenant(Base):
    """One customer or team; its documents, batches and search hits are seen by it alone."""

    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TenantError(Exception):
    code = "tenant_error"


class UnknownTenant(TenantError):
    code = "unknown_tenant"

    def __init__(self, name: str) -> None:
        super().__init__(f"There is no tenant {name!r}; create it with "
                         f"`docflow tenant create {name}`.")


# The tables whose every row is one tenant's.
_TENANTS_ROWS = (Document, Batch, DocumentType, FieldLabel)


@event.listens_for(Session, "do_orm_execute")
def _filter_by_tenant(state: ORMExecuteState) -> None:
    scope = current_scope()
    if scope is None or not (state.is_select or state.is_update or state.is_delete):
        return
    tenant = scope.tenant
    state.statement = state.statement.options(*(
        with_loader_criteria(model, model.tenant_id == tenant, include_aliases=True)
        for model in _TENANTS_ROWS))


def in_scope(column: ColumnElement[str]) -> ColumnElement[bool]:
    """The scope's tenant filter on `column`, for Core statements (the hook above sees only
    ORM ones); true outside a scope."""
    scope = current_scope()
    return column == scope.tenant if scope is not None else true()


def several_tenants(session: Session) -> bool:
    """Whether any tenant besides the default one exists."""
    return session.scalar(select(Tenant.name).where(Tenant.name != DEFAULT_TENANT)
                          .limit(1)) is not None


# Per database: whether tenants besides the default one were seen (tenants are never deleted).
_apart: WeakKeyDictionary[Database, bool] = WeakKeyDictionary()


def tenants_apart(db: Database) -> bool:
    """`several_tenants`, remembered: True once seen. When the database cannot be read (a
    read-only disk), the last answer stands: no tenant can be made in it meanwhile either."""
    if _apart.get(db):
        return True
    try:
        with db.read() as session:
            _apart[db] = several_tenants(session)
    except OperationalError:
        if db not in _apart:
            raise
    return _apart[db]


def create_tenant(session: Session, name: str) -> Tenant:
    """Make a tenant with its own copy of the built-in document types."""
    # Imported here: document_types reads this module's table.
    from docflow.store.document_types import add_builtin_types

    if not TENANT_NAME.match(name):
        raise TenantError(f"A tenant's name is 1 to 100 of a-z 0-9 . _ - (starting with a "
                          f"letter or digit); {name!r} is not.")
    if session.get(Tenant, name) is not None:
        raise TenantError(f"The tenant {name!r} exists already.")
    tenant = Tenant(name=name, created_at=utcnow())
    session.add(tenant)
    session.flush()
    add_builtin_types(session, name)
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.name)))


def require_tenant(session: Session, name: str | None) -> None:
    """Raise UnknownTenant unless `name` is None (the default tenant) or an existing tenant."""
    if name is not None and session.get(Tenant, name) is None:
        raise UnknownTenant(name)
