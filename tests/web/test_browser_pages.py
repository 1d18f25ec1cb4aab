"""In the browser against the API alone: the documents list walks forward and back by cursor
(no offsets in its links), counts only when asked, and a batch page lists its failed
documents, more on request, by cursor too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import insert, update

from docflow.config import Settings
from docflow.store import Batch, Document, Store, open_store
from docflow.store.models import utcnow
from tests.web.conftest import open_page
from tests.web.live import Server

pytestmark = pytest.mark.e2e
playwright = pytest.importorskip("playwright.sync_api")
DOCUMENTS = 120  # two full pages of 50 and a last one of 20
FAILED = 45


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[Server, Store]]:
    store = open_store(settings, migrate=True)
    now = utcnow()
    with store.db.write() as session:
        session.execute(insert(Batch), [{"id": "b" * 32, "name": "scans", "source": "batch-api",
                                         "document_count": DOCUMENTS, "created_at": now}])
        session.execute(insert(Document), [
            {"id": f"{n:032x}", "batch_id": "b" * 32, "filename": f"doc{n:03d}.txt",
             "source_path": f"scans/doc{n:03d}.txt", "sha256": f"{n:064x}", "size": 1,
             "status": "failed" if n < FAILED else "completed", "attempts": 1,
             "error_code": "corrupt" if n < FAILED else None,
             "error_message": "broken on purpose" if n < FAILED else None,
             "indexed": True, "created_at": now, "task_id": f"task-{n}"}
            for n in range(DOCUMENTS)])
    server = Server(settings)
    yield server, store
    server.stop()
    store.db.dispose()


def test_the_documents_list_pages_by_cursor_and_the_batch_lists_its_failures(
        served: tuple[Server, Store], browser: object) -> None:
    expect = playwright.expect
    server, _ = served
    page, errors = open_page(browser)
    names = page.locator("table tbody tr td:first-child a")

    page.goto(f"{server.url}/#/documents?batch_id={'b' * 32}")
    expect(names.first).to_have_text("scans/doc000.txt")
    expect(names).to_have_count(50)
    page.get_by_role("link", name="next →").click()
    expect(names.first).to_have_text("scans/doc050.txt")
    assert "cursor=" in page.url and "offset" not in page.url
    page.get_by_role("link", name="next →").click()
    expect(names.first).to_have_text("scans/doc100.txt")
    expect(names).to_have_count(20)
    expect(page.get_by_role("link", name="next →")).to_have_count(0)  # the last page
    page.get_by_role("link", name="← previous").click()
    expect(names.first).to_have_text("scans/doc050.txt")
    expect(names).to_have_count(50)
    page.click("#count-documents")
    expect(page.locator("#documents-total")).to_have_text("120 in all")
    page.get_by_role("link", name="« first").click()
    expect(names.first).to_have_text("scans/doc000.txt")

    page.goto(f"{server.url}/#/documents?batch_id={'b' * 32}&order=newest")
    expect(names.first).to_have_text("scans/doc119.txt")

    page.goto(f"{server.url}/#/batches/{'b' * 32}")
    failed = page.locator("#failed-documents tbody tr")
    expect(failed).to_have_count(20)
    page.click("#more-failed")
    expect(failed).to_have_count(40)
    page.click("#more-failed")
    expect(failed).to_have_count(FAILED)
    expect(page.locator("#more-failed")).to_have_count(0)
    expect(failed.first).to_contain_text("corrupt: broken on purpose")
    assert errors == []


def test_the_overview_counts_follow_the_event_stream_without_reading_the_overview_again(
        served: tuple[Server, Store], browser: object) -> None:
    expect = playwright.expect
    server, store = served
    page, errors = open_page(browser)
    first: list[str] = []

    def frozen(route: object) -> None:
        # The first answer stands for every later one: only the stream can move the cards.
        if not first:
            first.append(route.fetch().text())  # type: ignore[attr-defined]
        route.fulfill(status=200, content_type="application/json", body=first[0])  # type: ignore[attr-defined]

    page.route("**/api/overview", frozen)
    page.goto(f"{server.url}/#/")
    expect(page.locator("[data-k=completed]")).to_have_text(str(DOCUMENTS - FAILED))
    with store.db.write() as session:  # one failed document retried and completed
        session.execute(update(Document).where(Document.id == f"{0:032x}").values(
            status="completed", error_code=None, error_message=None, finished_at=utcnow()))
    expect(page.locator("[data-k=completed]")).to_have_text(str(DOCUMENTS - FAILED + 1))
    expect(page.locator("[data-k=failed]")).to_have_text(str(FAILED - 1))
    expect(page.locator("[data-k=total]")).to_have_text(str(DOCUMENTS))
    assert errors == []


LONG_PATH = "acme-2024/contracts/service-agreement-with-a-rather-long-name-{n}.txt"


def test_tables_keep_short_words_whole_wide_and_name_each_value_narrow(
        settings: Settings, browser: object) -> None:
    expect = playwright.expect
    store = open_store(settings, migrate=True)
    now = utcnow()
    with store.db.write() as session:
        session.execute(insert(Document), [
            {"id": f"{n:032x}", "filename": f"f{n}.txt", "source_path": LONG_PATH.format(n=n),
             "sha256": f"{n:064x}", "size": 1, "status": "failed" if n == 0 else "completed",
             "attempts": 1, "doc_type": None if n == 0 else "invoice",
             "error_code": "corrupt" if n == 0 else None,
             "error_message": "The PDF could not be opened; it may be damaged or incomplete. "
             "Try re-exporting it." if n == 0 else None,
             "indexed": True, "created_at": now, "task_id": f"task-{n}"} for n in range(4)])
    server = Server(settings)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        page.goto(f"{server.url}/#/documents")
        page.wait_for_selector('body[data-page="/documents"]')
        types = page.locator("td", has_text="invoice")
        expect(types).to_have_count(3)
        # One line each: the long paths and the reason beside them do not squeeze the type
        # column until "invoice" breaks in two.
        lines = page.evaluate("""() => [...document.querySelectorAll('td')]
            .filter((td) => td.textContent === 'invoice').map((td) => {
              const range = document.createRange();
              range.selectNodeContents(td);
              return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
            })""")
        assert lines == [1, 1, 1], lines

        page.set_viewport_size({"width": 390, "height": 900})
        page.goto(f"{server.url}/#/batches")  # leave and come back: the page renders anew
        page.goto(f"{server.url}/#/documents")
        page.wait_for_selector('body[data-page="/documents"]')
        expect(page.locator("tbody tr")).to_have_count(4)  # the rows, not only the page
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        # Rows are cards without a header row: each value says which column it is.
        labels = page.evaluate("""() => [...document.querySelector('tbody tr').children]
            .map((td) => getComputedStyle(td, '::before').content)""")
        assert labels[1:] == ['"Status"', '"Type"', '"Reason / warnings"', '"Added"'], labels
    finally:
        server.stop()
        store.db.dispose()
