"""Originals are stored once by content, on local disk or in an S3-compatible bucket.

The S3 case runs against moto's S3 server over HTTP on loopback (an S3-protocol server that
installs from PyPI), through the same boto3 client code a real bucket would see.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from docflow.config import Settings
from docflow.store import open_blobs, open_store
from docflow.store.blobs import BlobStore, BlobTooLarge, LocalBlobStore
from docflow.store.s3_blobs import S3BlobStore


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "originals", tmp_path / "tmp")
    endpoint = request.getfixturevalue("s3_endpoint")
    store = S3BlobStore(f"docflow-{tmp_path.name.lower().replace('_', '-')}"[:60],
                        tmp_path / "tmp", endpoint_url=endpoint, region="us-east-1",
                        access_key_id="test", secret_access_key="test")
    store.client.create_bucket(Bucket=store.bucket)
    return store


def test_a_stream_is_stored_under_its_digest_and_read_back(blobs: BlobStore) -> None:
    data = b"%PDF-1.7 pretend " * 100_000
    blob = blobs.put_stream(io.BytesIO(data))
    assert blob.sha256 == hashlib.sha256(data).hexdigest() and blob.size == len(data)
    assert blobs.exists(blob.sha256) and blobs.read(blob.sha256) == data
    with blobs.open(blob.sha256) as f:
        assert f.read(9) == b"%PDF-1.7 "
    assert list(blobs.tmp_dir.iterdir()) == []  # no temp file left behind


def test_the_same_bytes_twice_are_one_original(blobs: BlobStore) -> None:
    first = blobs.put_stream(io.BytesIO(b"same"))
    second = blobs.put_stream(io.BytesIO(b"same"))
    assert first == second and blobs.read(first.sha256) == b"same"


def test_a_stream_over_the_limit_stores_nothing(blobs: BlobStore) -> None:
    with pytest.raises(BlobTooLarge):
        blobs.put_stream(io.BytesIO(b"x" * 5000), max_bytes=4096)
    assert not blobs.exists(hashlib.sha256(b"x" * 5000).hexdigest())
    assert list(blobs.tmp_dir.iterdir()) == []


def test_a_missing_original_is_a_file_not_found(blobs: BlobStore) -> None:
    assert not blobs.exists("0" * 64)
    with pytest.raises(FileNotFoundError):
        blobs.open("0" * 64).read()


def test_originals_on_another_filesystem_than_the_data_dir_are_stored(
        settings: Settings, other_filesystem: Path) -> None:
    """README's recipe: DOCFLOW_ORIGINALS_DIR on a shared volume, uploads written to the data
    dir's tmp first; the move between the two crosses filesystems."""
    settings.originals_dir = other_filesystem / "originals"
    store = open_store(settings, migrate=True)
    try:
        assert store.blobs.tmp_dir.stat().st_dev != settings.blob_dir.stat().st_dev
        data = b"%PDF-1.7 scanned on the shared volume " * 50_000
        blob = store.blobs.put_stream(io.BytesIO(data))
        again = store.blobs.put_file(_write(settings.resolved_data_dir / "copy.pdf", data))
        assert again == blob and store.blobs.read(blob.sha256) == data
        assert [sha for sha, _ in store.blobs.listing()] == [blob.sha256]
        assert list(store.blobs.tmp_dir.iterdir()) == []
        left = [p.name for p in settings.blob_dir.rglob("*") if p.is_file()]
        assert left == [blob.sha256]  # no staged copy left beside it
    finally:
        store.db.dispose()


def test_on_one_filesystem_an_upload_is_renamed_into_place_not_copied(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "originals", tmp_path / "tmp")
    written = _write(blobs.tmp_dir / "upload-1", b"renamed, not copied")
    inode = written.stat().st_ino
    sha = hashlib.sha256(b"renamed, not copied").hexdigest()
    blobs.adopt(written, sha)
    assert blobs.path(sha).stat().st_ino == inode and not written.exists()


def test_an_original_swept_while_the_same_bytes_arrive_is_stored_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blobs = LocalBlobStore(tmp_path / "originals", tmp_path / "tmp")
    first = blobs.put_stream(io.BytesIO(b"stored twice"))
    real_utime = os.utime

    def sweep_then_touch(path: Path, *args: object, **kwargs: object) -> None:
        blobs.delete(first.sha256)  # the orphan sweep wins the race against the touch
        real_utime(path, *args, **kwargs)

    monkeypatch.setattr(os, "utime", sweep_then_touch)
    assert blobs.put_stream(io.BytesIO(b"stored twice")) == first
    monkeypatch.undo()
    assert blobs.read(first.sha256) == b"stored twice"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_blank_s3_settings_mean_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As compose passes them when .env leaves them out: boto3's defaults apply, no error."""
    for name in ("ENDPOINT_URL", "REGION", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY"):
        monkeypatch.setenv(f"DOCFLOW_S3_{name}", "")
    monkeypatch.setenv("DOCFLOW_S3_BUCKET", " ")
    settings = Settings(data_dir=tmp_path, blob_store="s3")
    assert settings.s3_bucket is None and settings.s3_endpoint_url is None
    with pytest.raises(ValueError, match="DOCFLOW_S3_BUCKET"):
        open_blobs(settings)
    settings.s3_bucket = "docflow-originals"
    blobs = open_blobs(settings)
    assert isinstance(blobs, S3BlobStore)
    assert blobs.client.meta.endpoint_url.startswith("https://")
