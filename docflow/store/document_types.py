"""Document types as rows: the built-in set until users change it, validated on save."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from docflow.pipeline.classify.doc_types import DEFAULT_DOC_TYPES, OTHER, DocType
from docflow.pipeline.classify.matching import MatchRule, RuleLimits
from docflow.store.models import DocumentType, utcnow


def ensure_defaults(session: Session) -> None:
    """Give a new database the built-in types (once; later edits are the users').

    Every process runs this at start; on PostgreSQL the first takes a transaction lock, so two
    hosts starting together on an empty database do not both insert them (SQLite's
    `BEGIN IMMEDIATE` already lets one writer in at a time).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('docflow.document_types'))"))
    if session.scalar(select(DocumentType.name).limit(1)) is not None:
        return
    for t in DEFAULT_DOC_TYPES:
        session.add(DocumentType(name=t.name, description=t.description,
                                 keywords=dict(t.keywords), rules=[], builtin=True))
    if all(t.name != OTHER for t in DEFAULT_DOC_TYPES):
        session.add(DocumentType(name=OTHER, description="Anything else.", keywords={},
                                 rules=[], builtin=True))


def to_pipeline(row: DocumentType, limits: RuleLimits | None = None) -> DocType:
    """The pipeline's view of a stored type; raises InvalidRule for a rule that cannot run.
    Rules past `limits` (saved before the limits, or with larger ones) are left out, loudly."""
    rules = tuple(MatchRule(**rule) for rule in row.rules)
    return DocType(name=row.name, description=row.description, keywords=row.keywords,
                   rules=(limits or RuleLimits()).trim(row.name, rules))


def save_type(session: Session, name: str, description: str,
              keywords: Mapping[str, float] | Sequence[str],
              rules: Sequence[Mapping[str, Any]],
              limits: RuleLimits | None = None) -> DocumentType:
    """Create or replace a type, after checking that it and its rules are valid and within
    `limits` (InvalidRule otherwise)."""
    (limits or RuleLimits()).check([str(rule.get("pattern", "")) for rule in rules])
    checked = DocType(name=name, description=description, keywords=keywords,
                      rules=tuple(MatchRule(**dict(rule)) for rule in rules))
    row = session.get(DocumentType, name)
    if row is None:
        row = DocumentType(name=name, builtin=False, created_at=utcnow())
        session.add(row)
    row.description = description
    row.keywords = dict(checked.keywords)
    row.rules = [dict(rule) for rule in rules]
    row.updated_at = utcnow()
    return row


def list_types(session: Session) -> list[DocumentType]:
    return list(session.scalars(select(DocumentType).order_by(DocumentType.name)))
