"""Training the document-type classifier from the labels people set (PATCH /api/documents).

Models are versioned folders under <data dir>/models; a `current` file names the one workers
use, and each prediction stores the version that made it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from docflow.config import Settings
from docflow.pipeline.classify.trained import ModelUnreadable, TrainedClassifier
from docflow.store import Document, Extraction, Store
from docflow.store.models import utcnow

CURRENT = "current"


@dataclass(frozen=True)
class TrainResult:
    version: str
    trained_on: int
    label_counts: dict[str, int]


def models_dir(settings: Settings) -> Path:
    return settings.resolved_data_dir / "models"


def embedding_model_dir(settings: Settings) -> Path:
    """Where the sentence encoder is converted once, for the workers and the API alike."""
    return models_dir(settings) / "embeddings"


def train_classifier(store: Store, settings: Settings) -> TrainResult:
    """Fit on every labelled document; raises NotEnoughLabels below two types."""
    cutoff = utcnow()  # labels set from here on count towards the next training
    with store.db.read() as session:
        rows = session.execute(
            select(Document.labeled_type, Extraction.text)
            .join(Extraction, Extraction.sha256 == Document.sha256)
            .where(Document.labeled_type.is_not(None))).all()
    version = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + str(len(rows))
    model = TrainedClassifier.fit([r.text for r in rows], [r.labeled_type for r in rows],
                                  version=version)
    root = models_dir(settings)
    model.save(root / version)
    pointer = root / f".{CURRENT}.tmp"
    pointer.write_text(json.dumps({"version": version, "labels_until": cutoff.isoformat()}))
    os.replace(pointer, root / CURRENT)  # workers switch to it at their next refresh
    return TrainResult(version, model.trained_on, dict(model.label_counts))


def _pointer(settings: Settings) -> dict[str, str]:
    try:
        return dict(json.loads((models_dir(settings) / CURRENT).read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def current_version(settings: Settings) -> str | None:
    return _pointer(settings).get("version")


def load_current(settings: Settings) -> TrainedClassifier | None:
    version = current_version(settings)
    if version is None:
        return None
    try:
        return TrainedClassifier.load(models_dir(settings) / version)
    except ModelUnreadable:
        return None


def labels_since(store: Store, settings: Settings) -> int:
    """Labels set after the current model was trained (all of them when there is none)."""
    until = _pointer(settings).get("labels_until")
    with store.db.read() as session:
        query = select(func.count()).select_from(Document).where(
            Document.labeled_type.is_not(None))
        if until is not None:
            query = query.where(Document.labeled_at > datetime.fromisoformat(until))
        return session.scalar(query) or 0
