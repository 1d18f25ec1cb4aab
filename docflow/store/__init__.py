"""The state store: SQLAlchemy models, sessions, migrations and blob storage."""

from __future__ import annotations

from dataclasses import dataclass

from docflow.config import Settings
from docflow.store.blobs import BlobStore, BlobTooLarge, LocalBlobStore, StoredBlob
from docflow.store.db import Database
from docflow.store.migrate import upgrade_database
from docflow.store.models import Batch, Document, DocumentStatus, Extraction, Worker


@dataclass
class Store:
    """The database and the originals, opened from one Settings."""

    db: Database
    blobs: LocalBlobStore


def open_store(settings: Settings, migrate: bool = False) -> Store:
    settings.ensure_dirs()
    db = Database(settings.sqlalchemy_url, pool_size=settings.db_pool_size,
                  max_overflow=settings.db_max_overflow)
    if migrate:
        upgrade_database(db)
    return Store(db=db, blobs=LocalBlobStore(settings.blob_dir, settings.upload_tmp_dir))


__all__ = ["Batch", "BlobStore", "BlobTooLarge", "Database", "Document", "DocumentStatus",
           "Extraction", "LocalBlobStore", "Store", "StoredBlob", "Worker", "open_store",
           "upgrade_database"]
