"""In a real browser (Debian's chromium, driven by Playwright) against the real stack: a
folder is uploaded through the page, the batch page follows it to 100% over Server-Sent
Events without a reload, a failure shows its reason, a type is corrected, a search hit opens,
files dropped on the upload page go up as a batch,
and every page reads at 1280 and 390 px wide. Screenshots go to DOCFLOW_SCREENSHOTS (if set)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import Stack
from tests.web.conftest import open_page

pytestmark = pytest.mark.e2e
playwright = pytest.importorskip("playwright.sync_api")
WIDE, NARROW = 1280, 390
PAGES = {"overview": "#/", "upload": "#/upload", "batches": "#/batches",
         "documents": "#/documents", "review": "#/review", "search": "#/search?q=zebrafish",
         "workers": "#/workers", "types": "#/types"}


def _folder(root: Path) -> Path:
    from fpdf import FPDF

    folder = root / "letters2024"
    (folder / "q1").mkdir(parents=True)
    (folder / "q1" / "invoice-1001.txt").write_text(
        "INVOICE\nInvoice number: INV-1001\nInvoice date: 2024-03-12\n"
        "Bill to: Example Ltd\nTotal due: 1,234.50 EUR\nPayment terms: 30 days\n")
    (folder / "q1" / "letter.txt").write_text(
        "Dear Ms Smith,\nThank you for the zebrafish samples you sent last week. "
        "We will report back soon.\nKind regards,\nThe lab\n")
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=14)
    pdf.cell(0, 10, "Quarterly report: revenue grew in the first quarter.")
    pdf.output(str(folder / "report.pdf"))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
    return folder


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path / "data", concurrency=2)
    try:
        s.wait_healthy(timeout=120)
        yield s
    finally:
        s.stop()


def _shot(page: object, name: str) -> None:
    target = os.environ.get("DOCFLOW_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_a_folder_goes_from_upload_to_search_in_the_browser(
        stack: Stack, browser: object, tmp_path: Path) -> None:
    expect = playwright.expect
    folder = _folder(tmp_path)
    page, errors = open_page(browser, WIDE)

    page.goto(f"{stack.url}/#/upload")
    page.set_input_files("#folder-input", str(folder))
    expect(page.locator("#upload-done")).to_have_text("All files sent.", timeout=60_000)
    _shot(page, "upload-sent-1280")
    page.locator(".batch-link").first.click()
    expect(page.locator("h1")).to_have_text("letters2024")
    # Marks this page load: a reload would lose it, so 100% must arrive over the stream.
    page.evaluate("window.__sameLoad = true")
    expect(page.locator("#batch-eta")).to_contain_text("Done", timeout=240_000)
    assert page.evaluate("window.__sameLoad") is True
    expect(page.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "100.0")
    expect(page.locator("[data-k=total]")).to_have_text("4")
    _shot(page, "batch-1280")

    # The failure, grouped by its code, then the document with its reason.
    page.get_by_role("link", name="list").first.click()
    page.get_by_role("link", name="broken.pdf").click()
    expect(page.locator("#doc-error")).to_contain_text(re.compile(r"\w+: .+"))
    _shot(page, "failed-document-1280")

    # Correct a type: the page shows it as decided by a person.
    page.goto(f"{stack.url}/#/documents?path_prefix=letters2024/q1/")
    page.get_by_role("link", name="letters2024/q1/letter.txt").click()
    page.select_option("#type-select", "other")
    page.click("#save-type")
    expect(page.locator("#doc-type")).to_contain_text("other (100%, by user)")

    # The PDF beside its text, shown inline.
    page.goto(f"{stack.url}/#/documents?path_prefix=letters2024/report")
    page.get_by_role("link", name="letters2024/report.pdf").click()
    expect(page.locator("#doc-text")).to_contain_text("Quarterly report")
    frame = page.locator("iframe.viewer")
    assert "inline=true" in (frame.get_attribute("src") or "")
    _shot(page, "document-pdf-1280")

    # Search (the indexer takes a few seconds after a document completes) and open the hit.
    deadline = time.monotonic() + 60
    while True:
        page.goto(f"{stack.url}/#/search?q=zebrafish&t={time.monotonic()}")
        hits = page.locator("li.hit a")
        try:
            expect(hits.first).to_be_visible(timeout=3000)
            break
        except AssertionError:
            assert time.monotonic() < deadline, "the letter never became searchable"
    expect(page.locator("li.hit b").first).to_have_text(re.compile("zebrafish", re.I))
    _shot(page, "search-1280")
    hits.first.click()
    expect(page.locator("h1")).to_have_text("letters2024/q1/letter.txt")

    # Files dropped on the upload page go up as a batch of their own.
    page.goto(f"{stack.url}/#/upload")
    page.wait_for_selector('body[data-page="/upload"]')
    dropped = page.evaluate_handle("""() => {
        const data = new DataTransfer();
        data.items.add(new File(["Dear Bo, the dropped note."], "dropped-note.txt",
                                {type: "text/plain"}));
        data.items.add(new File(["Minutes of the dropped meeting."], "dropped-minutes.txt"));
        return data;
    }""")
    page.dispatch_event("#drop", "dragover", {"dataTransfer": dropped})
    page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
    expect(page.locator("#upload-done")).to_have_text("All files sent.", timeout=60_000)
    expect(page.locator(".files td").filter(has_text="dropped-note.txt")).to_be_visible()
    page.locator(".batch-link").first.click()
    expect(page.locator("h1")).to_have_text("dropped-note.txt")
    expect(page.locator("[data-k=total]")).to_have_text("2")

    # Every page, wide and narrow: it renders, and nothing is wider than the screen.
    for width in (WIDE, NARROW):
        page.set_viewport_size({"width": width, "height": 900})
        for name, route in PAGES.items():
            page.goto(f"{stack.url}/{route}")
            path = route[1:].split("?")[0]
            page.wait_for_selector(f'body[data-page="{path}"]')
            overflow = page.evaluate("document.documentElement.scrollWidth") - width
            assert overflow <= 1, f"{name} is {overflow}px wider than {width}px"
            _shot(page, f"{name}-{width}")
    assert errors == []
