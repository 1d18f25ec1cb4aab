"""A real small disk (a tmpfs mounted for the test; skipped where mounting is not allowed): a
full disk answers 507 and leaves no partial file, a read-only one 503, every answer JSON."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.config import Settings


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / f"disk-{uuid.uuid4().hex[:8]}"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs",
                              str(mount_point)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_a_full_disk_is_a_507_and_a_read_only_one_a_503(settings: Settings,
                                                        small_disk: Path) -> None:
    settings.originals_dir = small_disk / "originals"
    settings.max_file_bytes = 64 * 1024 * 1024
    settings.min_free_disk_bytes = 0  # let the write itself hit the full disk
    with TestClient(create_app(settings, configure_logs=False),
                    raise_server_exceptions=False) as client:
        # The upload temp dir is in the data dir: put it on the small disk too.
        client.app.state.docflow.store.blobs.tmp_dir = small_disk / "tmp"
        (small_disk / "tmp").mkdir()
        assert client.post("/api/upload", files={"file": ("ok.txt", b"fits")}).status_code == 202

        r = client.post("/api/upload", files={"file": ("big.bin", b"x" * 12 * 1024 * 1024)})
        assert r.status_code == 507, r.text
        assert r.json()["code"] == "insufficient_storage"
        assert len(_files_in(small_disk)) == 1  # the first original only; no partial file
        r = client.post("/api/batch-upload", files=[
            ("files", ("a.txt", b"a", "text/plain")),
            ("files", ("big.bin", b"y" * 12 * 1024 * 1024, "text/plain"))])
        assert r.status_code == 507 and r.json()["code"] == "insufficient_storage", r.text
        assert len(_files_in(small_disk)) == 1

        # With the guard on, the upload is refused before a byte is written.
        settings.min_free_disk_bytes = 16 * 1024 * 1024
        r = client.post("/api/upload", files={"file": ("small.txt", b"small")})
        assert r.status_code == 507 and "free" in r.json()["message"]
        settings.min_free_disk_bytes = 0

        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
        r = client.post("/api/upload", files={"file": ("late.txt", b"late")})
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "storage_unavailable"
        assert client.get("/api/documents", params={"count": True}).json()["total"] == 1


def test_a_read_only_data_dir_answers_json_everywhere(settings: Settings,
                                                      small_disk: Path) -> None:
    settings.data_dir = small_disk / "data"
    settings.min_free_disk_bytes = 0
    with TestClient(create_app(settings, configure_logs=False),
                    raise_server_exceptions=False) as client:
        doc = client.post("/api/upload", files={"file": ("ok.txt", b"fits")}).json()
        # A filesystem with files open for writing cannot be remounted read-only: close the
        # pooled database connections; the app opens new ones on the read-only disk.
        client.app.state.docflow.store.db.engine.dispose()
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
        answers = {
            "upload": client.post("/api/upload", files={"file": ("late.txt", b"late")}),
            "batch": client.post("/api/batches", json={"name": "late"}),
            "type": client.put("/api/document-types/late", json={}),
            "list": client.get("/api/documents"),
            "one": client.get(f"/api/documents/{doc['document_id']}"),
            "file": client.get(f"/api/documents/{doc['document_id']}/file"),
            "search": client.get("/api/search", params={"q": "fits"}),
        }
    # SQLite in WAL mode cannot even be read on a read-only disk; the search index can.
    assert answers.pop("search").status_code == 200
    for name, r in answers.items():
        assert r.status_code == 503, (name, r.text)
        assert r.headers["content-type"] == "application/json", name
        assert r.json()["code"] == "storage_unavailable", name
