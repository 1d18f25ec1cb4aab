"""Training each tenant's document-type classifier from the labels its people set (PATCH
/api/documents), on those labels alone.

Models are versioned folders under <data dir>/models/tenants/<tenant>; a `current` file there
names the one that tenant's workers use, and each prediction stores the version that made it.
A model trained before tenants had models of their own (<data dir>/models/current) serves the
default tenant while it has none, if it was trained before any other tenant existed (its
labels were then all the default tenant's); otherwise it is left unused.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from docflow.config import Settings
from docflow.pipeline.classify.trained import ModelUnreadable, TrainedClassifier
from docflow.store import Document, Extraction, Store
from docflow.store.models import utcnow
from docflow.store.scope import DEFAULT_TENANT
from docflow.store.tenants import TENANT_NAME, Tenant

CURRENT = "current"


@dataclass(frozen=True)
class TrainResult:
    version: str
    trained_on: int
    label_counts: dict[str, int]


def models_dir(settings: Settings) -> Path:
    return settings.resolved_data_dir / "models"


def tenant_models_dir(settings: Settings, tenant: str) -> Path:
    """Where `tenant`'s models are kept: a tenant's name is a safe folder name (tenants.py),
    checked again here since a training message carries it."""
    if not TENANT_NAME.fullmatch(tenant):
        raise ValueError(f"{tenant!r} is not a tenant's name")
    return models_dir(settings) / "tenants" / tenant


def embedding_model_dir(settings: Settings) -> Path:
    """Where the sentence encoder is converted once, for the workers and the API alike."""
    return models_dir(settings) / "embeddings"


def train_classifier(store: Store, settings: Settings,
                     tenant: str = DEFAULT_TENANT) -> TrainResult:
    """Fit on every document of `tenant` whose type a person set; raises NotEnoughLabels below
    two types."""
    cutoff = utcnow()  # labels set from here on count towards the next training
    with store.db.read() as session:
        rows = session.execute(
            select(Document.labeled_type, Extraction.text)
            .join(Extraction, Extraction.sha256 == Document.sha256)
            .where(Document.tenant_id == tenant, Document.labeled_type.is_not(None))).all()
    version = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + str(len(rows))
    model = TrainedClassifier.fit([r.text for r in rows], [r.labeled_type for r in rows],
                                  version=version)
    root = tenant_models_dir(settings, tenant)
    model.save(root / version)
    pointer = root / f".{CURRENT}.tmp"
    pointer.write_text(json.dumps({"version": version, "labels_until": cutoff.isoformat()}))
    os.replace(pointer, root / CURRENT)  # workers switch to it at their next refresh
    return TrainResult(version, model.trained_on, dict(model.label_counts))


@dataclass(frozen=True)
class _Pointer:
    folder: Path  # where its versions are
    version: str | None = None
    labels_until: datetime | None = None


def _read_pointer(folder: Path) -> _Pointer:
    try:
        found = dict(json.loads((folder / CURRENT).read_text()))
    except (FileNotFoundError, ValueError):
        return _Pointer(folder)
    until = found.get("labels_until")
    return _Pointer(folder, found.get("version"),
                    datetime.fromisoformat(until) if until else None)


def _pointer(store: Store, settings: Settings, tenant: str) -> _Pointer:
    """`tenant`'s current model; for the default tenant without one, the model trained before
    tenants had their own, if no other tenant's label can be in it."""
    own = _read_pointer(tenant_models_dir(settings, tenant))
    if own.version is not None or tenant != DEFAULT_TENANT:
        return own
    legacy = _read_pointer(models_dir(settings))
    if legacy.version is None or legacy.labels_until is None:
        return own
    with store.db.read() as session:
        first = session.scalar(select(func.min(Tenant.created_at))
                               .where(Tenant.name != DEFAULT_TENANT))
    return legacy if first is None or first > legacy.labels_until else own


def current_version(store: Store, settings: Settings, tenant: str) -> str | None:
    return _pointer(store, settings, tenant).version


def load_current(store: Store, settings: Settings, tenant: str) -> TrainedClassifier | None:
    pointer = _pointer(store, settings, tenant)
    if pointer.version is None:
        return None
    try:
        return TrainedClassifier.load(pointer.folder / pointer.version)
    except ModelUnreadable:
        return None


def labels_since(store: Store, settings: Settings, tenant: str) -> int:
    """`tenant`'s labels set after its current model was trained (all of them without one)."""
    until = _pointer(store, settings, tenant).labels_until
    with store.db.read() as session:
        return count_labels(session, tenant, until)


def count_labels(session: Session, tenant: str, since: datetime | None) -> int:
    """`tenant`'s labels set after `since` (all of them when None); the housekeeper asks this
    of every tenant every round, so it reads a range of ix_documents_tenant_labeled, an index
    of labelled documents alone (labeled_at is set with labeled_type)."""
    query = select(func.count()).select_from(Document).where(
        Document.tenant_id == tenant, Document.labeled_at.is_not(None),
        Document.labeled_type.is_not(None))
    if since is not None:
        query = query.where(Document.labeled_at > since)
    return session.scalar(query) or 0
