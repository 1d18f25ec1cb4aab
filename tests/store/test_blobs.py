"""Originals are stored once by content, on local disk or in an S3-compatible bucket.

The S3 case runs against moto's S3 server over HTTP on loopback (an S3-protocol server that
installs from PyPI), through the same boto3 client code a real bucket would see.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

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
