"""The state store: SQLAlchemy models, sessions, migrations and blob storage."""

from __future__ import annotations

from dataclasses import dataclass

from docflow.config import Settings
from docflow.store import auth as _auth_tables  # noqa: F401  (their tables join Base.metadata)
from docflow.store import counts as _counts  # noqa: F401  (its table joins Base.metadata)
from docflow.store import tenants as _tenants  # noqa: F401  (its table, and the tenant filter)
from docflow.store.blobs import BlobStore, BlobTooLarge, LocalBlobStore, StoredBlob
from docflow.store.db import Database
from docflow.store.migrate import upgrade_database
from docflow.store.models import Batch, Document, DocumentStatus, Extraction, Worker


@dataclass
class Store:
    """The database and the originals, opened from one Settings."""

    db: Database
    blobs: BlobStore


def open_store(settings: Settings, migrate: bool = False) -> Store:
    settings.ensure_dirs()
    db = Database(settings.sqlalchemy_url, pool_size=settings.db_pool_size,
                  max_overflow=settings.db_max_overflow)
    if migrate:
        upgrade_database(db)
        from docflow.store.document_types import ensure_defaults

        with db.write() as session:
            ensure_defaults(session)
    return Store(db=db, blobs=open_blobs(settings))


def open_blobs(settings: Settings) -> BlobStore:
    if settings.blob_store == "s3":
        from docflow.store.s3_blobs import S3BlobStore

        if not settings.s3_bucket:
            raise ValueError("DOCFLOW_BLOB_STORE=s3 needs DOCFLOW_S3_BUCKET")
        return S3BlobStore(settings.s3_bucket, settings.upload_tmp_dir,
                           prefix=settings.s3_prefix, endpoint_url=settings.s3_endpoint_url,
                           region=settings.s3_region, access_key_id=settings.s3_access_key_id,
                           secret_access_key=settings.s3_secret_access_key)
    if settings.blob_store != "local":
        raise ValueError(f"unknown blob store {settings.blob_store!r}; use local or s3")
    return LocalBlobStore(settings.blob_dir, settings.upload_tmp_dir)


__all__ = ["Batch", "BlobStore", "BlobTooLarge", "Database", "Document", "DocumentStatus",
           "Extraction", "LocalBlobStore", "Store", "StoredBlob", "Worker", "open_blobs",
           "open_store", "upgrade_database"]
