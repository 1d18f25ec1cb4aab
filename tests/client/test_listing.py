"""The client and the CLI list a server's documents and batches page after page by cursor:
every one once, whatever the page size, and the filters go with every page."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from docflow.cli import app
from docflow.client import DocflowApi, ListedDocument
from docflow.config import Settings
from docflow.store import Document, DocumentStatus, open_store
from tests.client.conftest import ApiServer


def _upload(api: ApiServer, folder: str, count: int) -> list[str]:
    import httpx

    files = [("files", (f"{folder}/f{i:02d}.txt", f"{folder} {i}".encode(), "text/plain"))
             for i in range(count)]
    reply = httpx.post(f"{api.url}/api/batch-upload", files=files, timeout=60)
    assert reply.status_code == 202, reply.text
    return [d["document_id"] for d in reply.json()["documents"]]


@pytest.fixture
def listed(api: ApiServer, settings: Settings) -> tuple[list[str], set[str]]:
    """25 documents in three batches, seven of them failed."""
    ids = _upload(api, "a", 10) + _upload(api, "b", 10) + _upload(api, "c", 5)
    failed = set(ids[::4])
    store = open_store(settings)
    with store.db.write() as session:
        session.execute(update(Document).where(Document.id.in_(failed)).values(
            status=DocumentStatus.FAILED, error_code="corrupt", error_message="broken"))
    store.db.dispose()
    return ids, failed


def _all(api: ApiServer, **kwargs: object) -> list[ListedDocument]:
    async def walk() -> list[ListedDocument]:
        client = DocflowApi(api.url)
        try:
            return [d async for d in client.documents(**kwargs)]  # type: ignore[arg-type]
        finally:
            await client.aclose()

    return asyncio.run(walk())


def test_the_client_walks_every_document_by_cursor(api: ApiServer,
                                                   listed: tuple[list[str], set[str]]) -> None:
    ids, failed = listed
    every = _all(api, page_size=3)
    assert sorted(d.id for d in every) == sorted(ids) and len(every) == 25
    assert [(d.created_at, d.id) for d in every] == sorted((d.created_at, d.id) for d in every)
    only_failed = _all(api, page_size=2, status="failed", order="newest")
    assert {d.id for d in only_failed} == failed and len(only_failed) == len(failed)
    assert all(d.error_code == "corrupt" for d in only_failed)
    in_b = _all(api, page_size=4, order="path", path_prefix="b/")
    assert [d.source_path for d in in_b] == [f"b/f{i:02d}.txt" for i in range(10)]


def test_the_cli_lists_documents_and_batches_from_the_server(
        api: ApiServer, listed: tuple[list[str], set[str]], tmp_path: Path) -> None:
    ids, failed = listed
    runner = CliRunner()
    result = runner.invoke(app, ["documents", "--url", api.url, "--status", "failed",
                                 "--limit", "0", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert {r["id"] for r in rows} == failed and len(rows) == len(failed)
    result = runner.invoke(app, ["documents", "--url", api.url, "--limit", "3"])
    assert result.exit_code == 0 and "3 documents" in result.output, result.output
    result = runner.invoke(app, ["batches", "--url", api.url, "--limit", "0"])
    assert result.exit_code == 0 and "3 batches" in result.output, result.output


def test_status_shows_the_first_failures_and_walks_them_all_by_key_with_all(
        settings: Settings) -> None:
    from docflow.store.batches import create_batch
    from docflow.store.documents import register_documents
    from tests.conftest import put

    store = open_store(settings, migrate=True)
    with store.db.write() as session:
        batch = create_batch(session, "batch-upload").id
        docs = register_documents(session, [put(store, f"{i}".encode(), f"f{i}.txt")
                                             for i in range(60)], batch_id=batch)
        for doc in docs:
            doc.status, doc.error_code, doc.error_message = "failed", "corrupt", f"bad {doc.id}"
        ids = [d.id for d in docs]
    store.db.dispose()
    runner = CliRunner()
    result = runner.invoke(app, ["status", batch, "--data-dir", str(settings.data_dir)])
    assert result.exit_code == 0, result.output
    assert "10 more failed" in result.output and "--all" in result.output
    assert result.output.count("corrupt") == 50  # one table row each
    result = runner.invoke(app, ["status", batch, "--all", "--data-dir",
                                 str(settings.data_dir)])
    assert result.exit_code == 0 and "more failed" not in result.output, result.output
    assert result.output.count("corrupt") == len(ids)
