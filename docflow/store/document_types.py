"""Document types as rows, each tenant's own: the built-in set until its users change it,
validated on save.

Every tenant gets its own copy of the built-in types when it is made (`docflow tenant
create`), rather than sharing one read-only set with overrides: a tenant can then change or
delete any of its types, including the built-in ones, exactly as a single-tenant install can,
and no tenant's edit, deletion or new type ever reaches another (nor does a docflow upgrade's
change to the built-in set rewrite types a tenant already has).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import exists, func, select, text
from sqlalchemy.orm import Session

from docflow.pipeline.classify.doc_types import DEFAULT_DOC_TYPES, OTHER, DocType
from docflow.pipeline.classify.matching import MatchRule, RuleLimits
from docflow.store.models import DocumentType, utcnow
from docflow.store.scope import current_tenant
from docflow.store.tenants import Tenant


def ensure_defaults(session: Session) -> None:
    """Give each tenant that has no types yet the built-in ones (once: later edits are its
    users', and `other`, which cannot be deleted, keeps a tenant from ever having none).

    Every process runs this at start; on PostgreSQL the first takes a transaction lock, so two
    hosts starting together on an empty database do not both insert them (SQLite's
    `BEGIN IMMEDIATE` already lets one writer in at a time).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('docflow.document_types'))"))
    bare = session.scalars(select(Tenant.name).where(~exists().where(
        DocumentType.tenant_id == Tenant.name))).all()
    for tenant in bare:
        add_builtin_types(session, tenant)


def add_builtin_types(session: Session, tenant: str) -> None:
    """Give `tenant` its own copy of the built-in types."""
    now = utcnow()
    for t in DEFAULT_DOC_TYPES:
        session.add(DocumentType(tenant_id=tenant, name=t.name, description=t.description,
                                 keywords=dict(t.keywords), rules=[], builtin=True,
                                 created_at=now, updated_at=now))
    if all(t.name != OTHER for t in DEFAULT_DOC_TYPES):
        session.add(DocumentType(tenant_id=tenant, name=OTHER, description="Anything else.",
                                 keywords={}, rules=[], builtin=True, created_at=now,
                                 updated_at=now))


def get_type(session: Session, name: str, tenant: str | None = None) -> DocumentType | None:
    """`tenant`'s type of that name (default: the tenant in scope); another's is None."""
    return session.get(DocumentType, (tenant or current_tenant(), name))


def to_pipeline(row: DocumentType, limits: RuleLimits | None = None) -> DocType:
    """The pipeline's view of a stored type; raises InvalidRule for a rule that cannot run.
    Rules past `limits` (saved before the limits, or with larger ones) are left out, loudly."""
    rules = tuple(MatchRule(**rule) for rule in row.rules)
    return DocType(name=row.name, description=row.description, keywords=row.keywords,
                   rules=(limits or RuleLimits()).trim(row.name, rules))


def save_type(session: Session, name: str, description: str,
              keywords: Mapping[str, float] | Sequence[str],
              rules: Sequence[Mapping[str, Any]],
              limits: RuleLimits | None = None, tenant: str | None = None) -> DocumentType:
    """Create or replace `tenant`'s type (default: the tenant in scope), after checking that it
    and its rules are valid and within `limits` (InvalidRule otherwise)."""
    (limits or RuleLimits()).check([str(rule.get("pattern", "")) for rule in rules])
    checked = DocType(name=name, description=description, keywords=keywords,
                      rules=tuple(MatchRule(**dict(rule)) for rule in rules))
    tenant = tenant or current_tenant()
    row = get_type(session, name, tenant)
    if row is None:
        row = DocumentType(tenant_id=tenant, name=name, builtin=False, created_at=utcnow())
        session.add(row)
    row.description = description
    row.keywords = dict(checked.keywords)
    row.rules = [dict(rule) for rule in rules]
    row.updated_at = utcnow()
    return row


def list_types(session: Session, tenant: str | None = None) -> list[DocumentType]:
    """`tenant`'s types (default: the tenant in scope), by name."""
    return list(session.scalars(select(DocumentType).where(
        DocumentType.tenant_id == (tenant or current_tenant())).order_by(DocumentType.name)))


def types_stamp(session: Session, tenant: str) -> tuple[object, ...]:
    """Changes whenever one of `tenant`'s types is added, changed or removed."""
    return tuple(session.execute(select(func.count(), func.max(DocumentType.updated_at))
                                 .where(DocumentType.tenant_id == tenant)).one())
