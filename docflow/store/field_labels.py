"""Fields people corrected, kept as labels, and the hints the worker learns from them.

A correction (PATCH /api/documents/{id}) sets fields on the document marked `source: "user"`
with the time and, where the value is printed in the text, its real span. Each one is also a
row of `field_labels` with the label words printed before the value and the document's issuer,
so workers can read the same field after the same label in the next documents of that type
(pipeline fields/learned.py). Hints are grouped from those rows when workers refresh, per
tenant: a row carries its document's tenant, and a correction teaches that tenant alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from docflow.pipeline.fields.learned import FieldHint, field_kind, label_field
from docflow.store.models import Document, FieldLabel, utcnow
from docflow.store.scope import current_tenant

USER = "user"


@dataclass(frozen=True)
class CorrectedField:
    name: str
    value: str
    normalized: str | None = None


def correct_fields(session: Session, doc: Document, corrections: Iterable[CorrectedField],
                   text: str | None) -> None:
    """Set each corrected field on `doc` as a label (replacing fields of the same name), with
    its evidence span when the value is printed in `text`; then refresh the document's rows."""
    corrections = list(corrections)
    now = utcnow()
    names = {c.name for c in corrections}
    kept = [f for f in (doc.fields or []) if f["name"] not in names]
    labels = []
    for c in corrections:
        normalized = c.normalized or c.value
        found = label_field(text, c.name, c.value, normalized) if text else None
        labels.append({
            "name": c.name, "value": c.value, "normalized": normalized,
            "start": found.start if found else -1, "end": found.end if found else -1,
            "confidence": 1.0, "source": USER, "labeled_at": now.isoformat()})
    doc.fields = kept + labels
    refresh_labels(session, doc, text)


def refresh_labels(session: Session, doc: Document, text: str | None) -> None:
    """Rewrite `doc`'s rows from its user-set fields: after a field, type or vendor change."""
    session.execute(delete(FieldLabel).where(FieldLabel.document_id == doc.id))
    now = utcnow()
    fields: list[dict[str, Any]] = doc.fields or []
    vendor = next((f["normalized"] for f in fields if f["name"] == "vendor"), None)
    for field in fields:
        if field.get("source") != USER:
            continue
        start = field.get("start", -1)
        anchor = None
        if text and start >= 0:
            found = label_field(text, field["name"], field["value"], field["normalized"])
            anchor = found.anchor if found is not None else None
        kind = field_kind(field["name"], field["value"])
        session.add(FieldLabel(
            document_id=doc.id, tenant_id=doc.tenant_id, field=field["name"],
            doc_type=doc.doc_type,
            kind=kind.value if kind else None, value=field["value"], anchor=anchor,
            issuer=vendor if field["name"] != "vendor" else None, updated_at=now))


def learned_hints(session: Session, tenant: str | None = None) -> list[FieldHint]:
    """Every (type, field, label, issuer) the corrections of `tenant`'s people taught (default:
    the tenant in scope), with how many did."""
    rows = session.execute(
        select(FieldLabel.doc_type, FieldLabel.field, FieldLabel.kind, FieldLabel.anchor,
               FieldLabel.issuer, func.count())
        .where(FieldLabel.tenant_id == (tenant or current_tenant()),
               FieldLabel.anchor.is_not(None), FieldLabel.doc_type.is_not(None),
               FieldLabel.kind.is_not(None))
        .group_by(FieldLabel.doc_type, FieldLabel.field, FieldLabel.kind, FieldLabel.anchor,
                  FieldLabel.issuer)).all()
    return [FieldHint(doc_type, field, kind, anchor, issuer, count)
            for doc_type, field, kind, anchor, issuer, count in rows]


def labels_stamp(session: Session, tenant: str | None = None) -> tuple[object, ...]:
    """Changes whenever one of `tenant`'s labels is added, changed or removed (default: the
    tenant in scope): when workers reload its hints."""
    return tuple(session.execute(select(func.count(), func.max(FieldLabel.updated_at))
                                 .where(FieldLabel.tenant_id == (tenant or current_tenant())))
                 .one())
