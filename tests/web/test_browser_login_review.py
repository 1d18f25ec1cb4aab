"""In the browser against the API alone (no workers: documents are finished in the database):
the login form when the API answers 401, corrections sent with the session's CSRF token, the
keyboard-driven review queue, and fields marked in the text at their evidence spans."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from docflow.auth.scopes import Scope
from docflow.auth.users import create_user
from docflow.config import AuthMode, Settings
from docflow.store import Document, Store, open_store
from docflow.store.models import Extraction, utcnow
from tests.web.conftest import open_page
from tests.web.live import Server
from tests.web.test_browser import _shot

pytestmark = pytest.mark.e2e
playwright = pytest.importorskip("playwright.sync_api")
TEXT = "Invoice INV-7 from Acme. Total due: 99.00 EUR. Thank you."


@pytest.fixture
def locked(settings: Settings) -> Iterator[tuple[Server, Store]]:
    settings.auth = AuthMode.REQUIRED
    store = open_store(settings, migrate=True)
    with store.db.write() as session:
        create_user(session, "ada", "correct horse battery", Scope.UPLOAD)
    server = Server(settings)
    yield server, store
    server.stop()
    store.db.dispose()


def _documents_to_review(server: Server, store: Store, page: object, count: int) -> list[str]:
    """Upload through the logged-in page's own session, then finish them as a worker would."""
    ids = page.evaluate("""async (count) => {
        const csrf = document.cookie.split('; ').find(c => c.startsWith('docflow_csrf='))
            .split('=')[1];
        const form = new FormData();
        for (let n = 0; n < count; n++) form.append('files', new Blob(['x' + n]), `r${n}.txt`);
        const r = await fetch('/api/batch-upload', {method: 'POST', body: form,
                                                     headers: {'X-CSRF-Token': csrf}});
        return (await r.json()).documents.map(d => d.document_id);
    }""", count)  # type: ignore[attr-defined]
    field = {"name": "total", "value": "99.00 EUR", "normalized": "99.00 EUR",
             "start": TEXT.index("99.00"), "end": TEXT.index("99.00") + 9, "confidence": 0.9}
    with store.db.write() as session:
        for n, doc_id in enumerate(ids):
            doc = session.get(Document, doc_id)
            assert doc is not None
            session.merge(Extraction(sha256=doc.sha256, format="text", mime_type="text/plain",
                                     text=TEXT, pages=[TEXT], page_count=1))
            session.execute(update(Document).where(Document.id == doc_id).values(
                status="completed", finished_at=utcnow(), doc_type="invoice",
                doc_type_confidence=0.4 + n / 100, classifier="zero-shot", needs_review=True,
                fields=[field], mime_type="text/plain"))
    return ids


def _states(store: Store, ids: list[str]) -> list[tuple[bool, str | None, str | None]]:
    """(needs_review, doc_type, labeled_type) of each document, in sorted order."""
    with store.db.read() as session:
        docs = [session.get(Document, i) for i in ids]
        return sorted(((d.needs_review, d.doc_type, d.labeled_type) for d in docs if d),
                      key=lambda s: (s[0], s[1] or "", s[2] or ""))


def test_log_in_then_review_documents_by_keyboard(
        locked: tuple[Server, Store], browser: object) -> None:
    expect = playwright.expect
    server, store = locked
    page, errors = open_page(browser)

    page.goto(f"{server.url}/#/review")
    expect(page.locator("h1")).to_have_text("Log in to docflow")  # the API said 401
    _shot(page, "login-1280")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Review")
    expect(page.locator("#who")).to_contain_text("ada (upload)")

    ids = _documents_to_review(server, store, page, 3)
    page.reload()
    expect(page.locator("#review-count")).to_have_text("3 documents wait for review.")
    # Fields are marked in the text where their evidence is.
    expect(page.locator("mark[data-field=total]")).to_have_text("99.00 EUR")
    _shot(page, "review-document-1280")

    page.keyboard.press("a")  # accept: a PATCH sent with the session cookie and CSRF token
    expect(page.locator("#review-count")).to_have_text("2 documents wait for review.")
    assert _states(store, ids) == [(False, "invoice", "invoice"), (True, "invoice", None),
                                   (True, "invoice", None)]
    shown = page.locator("main h2").first.inner_text()
    page.keyboard.press("n")  # skip one: it stays in the queue
    expect(page.locator("main h2").first).not_to_have_text(shown)
    # The original's preview frame loads after the document is shown and may take the focus
    # when it does: let the page settle before the key, as a reader's eyes would.
    page.wait_for_load_state("networkidle")
    page.keyboard.press("t")  # change the type of the next
    expect(page.locator("#type-select")).to_be_focused()
    page.select_option("#type-select", "receipt")
    page.click("#save-type")
    expect(page.locator("#review-count")).to_have_text("1 documents wait for review.")
    # One accepted, one retyped, and the skipped one still waits.
    assert _states(store, ids) == [(False, "invoice", "invoice"), (False, "receipt", "receipt"),
                                   (True, "invoice", None)]
    assert errors == []
