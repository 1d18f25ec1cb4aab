"""Screenshots of every page of the web app, 1280 and 390 px wide, with real content.

    .venv/bin/python scripts/screenshots.py [--out /tmp/docflow-screens] [--keep]

Starts `docflow serve` (embedded broker, two workers) on a fresh data dir, uploads a folder
of real-looking files made here (invoices as PDF, a letter as DOCX, an e-mail with an
attachment, a contract and notes as text, and one corrupt PDF that fails on purpose) through
the batch API, waits until the batch is finished and its documents are searchable (by state,
never by a fixed wait), then drives Debian's chromium through Playwright to each page:
overview, upload (with a few files going up), batches, a batch, documents, a document with
its fields highlighted, the failed document, review queue, search with hits, workers and
document types. Each page is saved as <out>/<page>-<width>.png (the whole page, not only
the screen), and the script prints, per page and width, how much wider than the screen the
page is (0 is right). Semantic search is off (keyword search is what the pages show, and the
workers finish sooner); documents typed with less than 90% confidence are flagged for review
so that the review page has some.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.stack import Stack  # noqa: E402
from tests.fixtures import make_docx, make_pdf  # noqa: E402
from tests.fixtures_mail import make_eml  # noqa: E402

WIDTHS = (1280, 390)


def folder_files() -> dict[str, bytes]:
    """A small office's folder: what a user would drop on the upload page."""
    invoice = ("ACME Office Supplies Ltd\n12 Market Street, Leeds LS1 4AB\n\nINVOICE\n"
               "Invoice number: INV-{n}\nInvoice date: 2024-0{m}-12\nDue date: 2024-0{d}-11\n"
               "Bill to: Example Ltd, 3 High Road, York\n\n"
               "Item                      Qty   Price\nPrinter paper A4 (box)      4   "
               "92.00\nToner cartridge            2  148.50\n\n"
               "Subtotal: {sub} EUR\nVAT 20%: {vat} EUR\nTotal due: {total} EUR\n"
               "IBAN: GB82 WEST 1234 5698 7654 32\nPayment terms: 30 days\n")
    files = {
        f"acme-2024/invoices/inv-{n}.pdf": make_pdf([invoice.format(
            n=n, m=m, d=m + 1, sub=sub, vat=f"{float(sub) * 0.2:.2f}",
            total=f"{float(sub) * 1.2:,.2f}")])
        for n, m, sub in ((1001, 3, "389.00"), (1002, 4, "1210.40"), (1003, 5, "76.25"))
    }
    files["acme-2024/letters/thank-you.docx"] = make_docx([
        "Example Ltd, 3 High Road, York", "14 March 2024", "Dear Ms Smith,",
        "Thank you for the zebrafish samples you sent last week. Our lab has begun the "
        "growth study and we will report back with the first measurements in April.",
        "Kind regards,", "Dr Alan Brown, Head of Research"])
    files["acme-2024/mail/order-confirmation.eml"] = make_eml(
        "Your order 55-1234 is confirmed",
        "Hello Bob,\n\nthank you for your order 55-1234 of 12 March 2024. It ships within two "
        "working days; the receipt is attached.\n\nACME Office Supplies\n+44 113 496 0000\n",
        attachments=[("receipt.txt", b"RECEIPT\nOrder 55-1234\nTotal paid: 92.00 EUR\n"
                                     b"Paid by card on 2024-03-12\n")])
    files["acme-2024/contracts/service-agreement.txt"] = (
        b"SERVICE AGREEMENT\n\nThis agreement is made on 1 February 2024 between ACME Office "
        b"Supplies Ltd (the Supplier) and Example Ltd (the Customer).\n1. Term. The agreement "
        b"runs for twelve months and renews unless either party gives 60 days notice.\n"
        b"2. Fees. The Customer pays 250.00 EUR per month, invoiced monthly.\n"
        b"3. Governing law. The laws of England and Wales apply.\nSigned by both parties.\n"
    )
    files["acme-2024/notes/meeting-2024-03-20.txt"] = (
        b"Minutes of the planning meeting, 20 March 2024\nPresent: Ann, Bob, Carol\n"
        b"- The zebrafish study moves to the new lab in May.\n- Budget review next week.\n"
    )
    files["acme-2024/scans/broken.pdf"] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage"
    return files


def upload(stack: Stack, files: dict[str, bytes]) -> str:
    batch = stack.client.post("/api/batches", json={"name": "acme-2024"},
                              headers={"Idempotency-Key": "screens-acme-2024"})
    batch.raise_for_status()
    batch_id = batch.json()["batch_id"]
    parts = [("files", (path, data, "application/octet-stream")) for path, data in files.items()]
    stack.client.post(f"/api/batches/{batch_id}/files", files=parts).raise_for_status()
    return batch_id


def wait_searchable(stack: Stack, query: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while stack.client.get("/api/search", params={"q": query, "mode": "keyword"}).json()[
            "total"] == 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"nothing matched {query!r} in {timeout:.0f} s")
        time.sleep(0.5)


def pick(stack: Stack, batch_id: str) -> tuple[str, str]:
    """An invoice with fields in its text, and the failed document."""
    docs = stack.client.get("/api/documents", params={"batch_id": batch_id, "limit": 50}).json()
    failed = next(d["id"] for d in docs["documents"] if d["status"] == "failed")
    best, most = "", -1
    for d in docs["documents"]:
        if d["status"] == "completed":
            fields = stack.client.get(f"/api/documents/{d['id']}").json()["fields"]
            spans = sum(f["start"] >= 0 for f in fields)
            if spans > most:
                best, most = d["id"], spans
    return best, failed


def shoot(url: str, out: Path, batch_id: str, document: str, failed: str,
          extra_files: dict[int, list[Path]]) -> list[tuple[str, int, int]]:
    from playwright.sync_api import expect, sync_playwright

    pages = [("overview", "#/", "/"), ("upload", "#/upload", "/upload"),
             ("batches", "#/batches", "/batches"),
             ("batch", f"#/batches/{batch_id}", f"/batches/{batch_id}"),
             ("documents", "#/documents", "/documents"),
             ("document", f"#/documents/{document}", f"/documents/{document}"),
             ("failed-document", f"#/documents/{failed}", f"/documents/{failed}"),
             ("review", "#/review", "/review"),
             ("search", "#/search?q=invoice", "/search"),
             ("workers", "#/workers", "/workers"), ("types", "#/types", "/types")]
    report = []
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for width in WIDTHS:
            page = browser.new_page(viewport={"width": width, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            for name, route, path in pages:
                page.goto(f"{url}/{route}")
                page.wait_for_selector(f'body[data-page="{path}"]')
                if name == "upload":  # a few files going up: the page's per-file progress
                    page.set_input_files("#files-input", [str(f) for f in extra_files[width]])
                    expect(page.locator("#upload-done")).to_be_visible(timeout=60_000)
                elif name == "search":
                    expect(page.locator("li.hit").first).to_be_visible()
                elif name == "batch":
                    expect(page.locator("#batch-eta")).to_contain_text("Done")
                    expect(page.locator("#failed-documents tr").first).to_be_visible()
                elif name == "document":
                    expect(page.locator("mark.f").first).to_be_visible()
                elif name == "overview":
                    expect(page.locator("[data-k=total]")).not_to_have_text("0")
                overflow = page.evaluate("document.documentElement.scrollWidth") - width
                page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)
                report.append((name, width, overflow))
            if errors:
                raise SystemExit(f"errors in the page at {width} px: {errors}")
            page.close()
        browser.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/docflow-screens"))
    parser.add_argument("--keep", action="store_true", help="keep the data dir (printed)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="docflow-screens-"))
    extra: dict[int, list[Path]] = {}  # files for the upload page, other ones at each width
    for width, names in zip(WIDTHS, (("note-for-bo.txt", "minutes-april.txt"),
                                     ("phone-memo.txt", "todo-friday.txt")), strict=True):
        extra[width] = [work / name for name in names]
        for path in extra[width]:
            path.write_text(f"{path.stem.replace('-', ' ').capitalize()}: written on the way.")
    stack = Stack(work / "data", concurrency=2, env={"DOCFLOW_SEMANTIC_SEARCH": "false",
                                                      "DOCFLOW_REVIEW_BELOW": "0.9"})
    try:
        stack.wait_healthy(timeout=120)
        batch_id = upload(stack, folder_files())
        status = stack.wait_batch(batch_id, timeout=300)
        print(f"batch {batch_id}: {status['completed']} completed, {status['failed']} failed",
              flush=True)
        wait_searchable(stack, "invoice")
        document, failed = pick(stack, batch_id)
        report = shoot(stack.url, args.out, batch_id, document, failed, extra)
    finally:
        stack.stop()
        if args.keep:
            print(f"data dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'page':<18}{'width':>7}{'wider by px':>13}  file")
    for name, width, overflow in report:
        print(f"{name:<18}{width:>7}{overflow:>13}  {args.out / f'{name}-{width}.png'}")
    return 0 if all(overflow <= 1 for _, _, overflow in report) else 1


if __name__ == "__main__":
    raise SystemExit(main())
