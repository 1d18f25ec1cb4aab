"""In the browser against the API alone (documents finished and indexed in the database): the
search page counts the matches per type, and a count narrows the search to its type."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from docflow.config import Settings
from docflow.search import open_index
from docflow.store import Document, DocumentStatus, open_store
from docflow.store.documents import register_documents, save_extraction
from docflow.store.models import utcnow
from docflow.worker.indexer import index_pending
from tests.conftest import put
from tests.web.live import Server

pytestmark = pytest.mark.e2e
playwright = pytest.importorskip("playwright.sync_api")
FILED = {"2024/a.txt": "invoice", "2024/b.txt": "invoice", "2023/c.txt": "letter"}


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    store = open_store(settings, migrate=True)
    with store.db.write() as session:
        for path, doc_type in FILED.items():
            (doc,) = register_documents(session, [put(store, path.encode(), path)])
            save_extraction(session, doc.sha256, format="text", mime_type="text/plain",
                            text=f"quarterly report {path}", pages=[], page_count=1)
            session.execute(update(Document).where(Document.id == doc.id).values(
                status=DocumentStatus.COMPLETED, doc_type=doc_type, finished_at=utcnow()))
    index = open_index("tantivy", settings.index_dir, writer=True)
    assert index_pending(store, index, 10) == len(FILED)
    index.close()
    live = Server(settings)
    yield live
    live.stop()
    store.db.dispose()


def test_counts_per_type_narrow_the_search_when_clicked(server: Server, browser) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{server.url}/#/search?q=report")
    facets = page.locator("p.facets")
    expect(facets).to_contain_text("invoice (2)")
    expect(facets).to_contain_text("letter (1)")
    expect(page.locator("li.hit")).to_have_count(3)
    facets.get_by_role("link", name="invoice (2)").click()
    expect(page.locator("li.hit")).to_have_count(2)
    expect(page.locator("p.facets")).to_contain_text("any type")
    page.goto(f"{server.url}/#/search?q=report&path_prefix=2023/&sort=date")
    expect(page.locator("li.hit")).to_have_count(1)
    expect(page.locator("li.hit a")).to_have_text("2023/c.txt")
    expect(page.locator("select[name=sort]")).to_have_value("date")
