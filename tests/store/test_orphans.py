"""The orphan sweep deletes only originals that no document refers to and that nobody stored
lately, on local disk and in an S3-compatible bucket."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from docflow.store import Store
from docflow.store import documents as docs
from docflow.store.blobs import BlobStore, LocalBlobStore
from docflow.store.orphans import sweep_orphans
from docflow.store.s3_blobs import S3BlobStore

DAY = 24 * 3600.0


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "originals", tmp_path / "tmp")
    store = S3BlobStore(f"orphans-{tmp_path.name.lower().replace('_', '-')}"[:60],
                        tmp_path / "s3tmp", endpoint_url=request.getfixturevalue("s3_endpoint"),
                        region="us-east-1", access_key_id="test", secret_access_key="test")
    store.client.create_bucket(Bucket=store.bucket)
    return store


def test_only_old_originals_without_a_document_are_deleted(store: Store,
                                                           blobs: BlobStore) -> None:
    kept = blobs.put_stream(io.BytesIO(b"a document's original"))
    orphan = blobs.put_stream(io.BytesIO(b"left by a refused upload"))
    with store.db.write() as session:
        docs.register_documents(session, [docs.NewDocument("kept.txt", kept)])
    assert sorted(sha for sha, _ in blobs.listing()) == sorted([kept.sha256, orphan.sha256])

    # Within the grace period nothing goes, referenced or not.
    assert sweep_orphans(store.db, blobs, DAY).deleted == 0
    assert blobs.exists(orphan.sha256)

    # A day later the orphan goes and the document's original stays.
    swept = sweep_orphans(store.db, blobs, DAY, now=time.time() + DAY + 60)
    assert (swept.looked_at, swept.deleted) == (2, 1)
    assert blobs.exists(kept.sha256) and not blobs.exists(orphan.sha256)
    assert blobs.read(kept.sha256) == b"a document's original"


def test_storing_the_same_bytes_again_touches_the_original(blobs: BlobStore) -> None:
    blob = blobs.put_stream(io.BytesIO(b"uploaded twice"))
    if isinstance(blobs, LocalBlobStore):
        os.utime(blobs.path(blob.sha256), (time.time() - DAY, time.time() - DAY))
    else:
        time.sleep(1.1)  # S3 keeps whole seconds
    before = blobs.stored_at(blob.sha256)
    assert before is not None
    blobs.put_stream(io.BytesIO(b"uploaded twice"))
    after = blobs.stored_at(blob.sha256)
    assert after is not None and after > before
    assert blobs.read(blob.sha256) == b"uploaded twice"


def test_a_document_registered_after_the_listing_keeps_its_original(
        store: Store, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = blobs.put_stream(io.BytesIO(b"registered during the sweep"))
    real_stored_at = blobs.stored_at

    def register_then_look(sha256: str) -> float | None:
        # The upload's row lands between the chunk's query and the delete.
        with store.db.write() as session:
            docs.register_documents(session, [docs.NewDocument("late.txt", blob)])
        return real_stored_at(sha256)

    monkeypatch.setattr(blobs, "stored_at", register_then_look)
    assert sweep_orphans(store.db, blobs, DAY, now=time.time() + DAY + 60).deleted == 0
    assert blobs.exists(blob.sha256)


def test_temp_files_that_crashed_uploads_left_are_swept(store: Store, blobs: BlobStore) -> None:
    tmp_dir = Path(blobs.tmp_dir)
    partial = tmp_dir / "upload-crashed"
    partial.write_bytes(b"half an upload")
    in_progress = tmp_dir / "upload-running"
    in_progress.write_bytes(b"being written now")
    unrelated = tmp_dir / "notes.txt"
    unrelated.write_bytes(b"not ours")
    stale = [partial]
    if isinstance(blobs, LocalBlobStore):
        kept = blobs.put_stream(io.BytesIO(b"an original"))
        copy = blobs.path(kept.sha256).parent / ".adopt-crashed"
        copy.write_bytes(b"half a copy")
        stale.append(copy)
    old = time.time() - DAY - 60
    for path in stale + [unrelated]:
        os.utime(path, (old, old))

    swept = sweep_orphans(store.db, blobs, DAY)
    assert swept.temp_files == len(stale)
    assert not any(path.exists() for path in stale)
    assert in_progress.exists() and unrelated.exists()
