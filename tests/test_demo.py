"""The demo corpus: a newcomer's first batch, so every file must be what it claims to be."""

from __future__ import annotations

import io
import re
from pathlib import Path

import docx
import pypdfium2 as pdfium
import pytest

from docflow.config import Settings
from docflow.demo import DemoFile, main, make_docx, make_pdf, upload_demo, write_demo_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[DemoFile]:
    return write_demo_corpus(tmp_path_factory.mktemp("demo"), count=60, broken=3, seed=0)


def pdf_text(data: bytes) -> tuple[int, str]:
    document = pdfium.PdfDocument(data)
    pages = [document[i].get_textpage().get_text_range() for i in range(len(document))]
    return len(pages), "\n".join(pages)


def docx_text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    parts += [p.text for section in document.sections for p in section.header.paragraphs]
    return "\n".join(parts)


def text_of(demo: DemoFile) -> str:
    """The file's text the way a careful reader gets it, honouring a declared HTML charset."""
    data = demo.path.read_bytes()
    suffix = demo.path.suffix
    if suffix == ".pdf":
        return pdf_text(data)[1]
    if suffix == ".docx":
        return docx_text(data)
    if suffix == ".html":
        declared = re.search(rb'<meta charset="([\w-]+)"', data)
        return data.decode(declared.group(1).decode() if declared else "utf-8")
    return data.decode("utf-8-sig")


def test_the_corpus_has_as_many_files_as_asked_in_every_kind_and_format(corpus, tmp_path):
    assert len(corpus) == 60
    assert sorted(p.name for p in corpus[0].path.parent.iterdir()) == sorted(
        demo.path.name for demo in corpus
    )
    assert sum(demo.broken for demo in corpus) == 3
    good = [demo for demo in corpus if not demo.broken]
    assert {demo.kind for demo in good} == {
        "invoice", "receipt", "contract", "letter", "email",
        "resume", "abstract", "news", "report", "form",
    }  # fmt: skip
    assert {demo.path.suffix for demo in good} == {".pdf", ".docx", ".html", ".txt", ".md", ".csv"}
    assert len(write_demo_corpus(tmp_path, count=7, broken=0)) == 7


def test_the_broken_files_are_broken_each_in_its_own_way(corpus):
    broken = {demo.kind: demo for demo in corpus if demo.broken}

    assert set(broken) == {"truncated-pdf", "random-bytes-docx", "empty-file"}
    assert all(demo.unique_word is None for demo in broken.values())
    with pytest.raises(pdfium.PdfiumError):
        pdfium.PdfDocument(broken["truncated-pdf"].path.read_bytes())
    assert broken["truncated-pdf"].path.read_bytes().startswith(b"%PDF-")
    with pytest.raises(Exception, match="zip|Package"):
        docx.Document(str(broken["random-bytes-docx"].path))
    assert broken["empty-file"].path.stat().st_size == 0


def test_every_pdf_opens_in_pdfium_and_gives_its_text_back(corpus):
    pdfs = [demo for demo in corpus if demo.path.suffix == ".pdf" and not demo.broken]
    page_counts = []
    for demo in pdfs:
        pages, text = pdf_text(demo.path.read_bytes())
        page_counts.append(pages)
        assert demo.unique_word in text, demo.path.name

    assert len(pdfs) >= 10
    assert max(page_counts) > 1  # long contracts and reports run over several pages


def test_every_docx_opens_in_python_docx_and_holds_its_word(corpus):
    documents = [demo for demo in corpus if demo.path.suffix == ".docx" and not demo.broken]

    assert len(documents) >= 5
    for demo in documents:
        assert demo.unique_word in docx_text(demo.path.read_bytes()), demo.path.name


def test_each_unique_word_is_in_exactly_one_file(corpus):
    good = [demo for demo in corpus if not demo.broken]
    texts = {demo.path: text_of(demo).lower() for demo in good}

    words = [demo.unique_word for demo in good]
    assert len(set(words)) == len(words)
    for demo in good:
        holders = [path.name for path, text in texts.items() if demo.unique_word in text]
        assert holders == [demo.path.name]


def test_some_html_is_windows_1252_and_says_so(corpus):
    pages = [demo.path.read_bytes() for demo in corpus if demo.path.suffix == ".html"]
    legacy = [page for page in pages if b'<meta charset="windows-1252">' in page]

    assert legacy and len(legacy) < len(pages)
    for page in legacy:
        with pytest.raises(UnicodeDecodeError):
            page.decode("utf-8")
        assert "Über" in page.decode("cp1252")


def test_documents_carry_fields_worth_extracting(corpus):
    text = "\n".join(text_of(demo) for demo in corpus if not demo.broken)

    assert re.search(r"[\w.]+@[\w-]+(\.[\w-]+)+", text)  # e-mail addresses
    assert re.search(r"\+\d{1,2} [\d() -]{6,}", text)  # international phone numbers
    assert re.search(r"\d{4}-\d{2}-\d{2}", text) and re.search(r"\d{2}/\d{2}/\d{4}", text)
    for currency in ["$", "€", "£", "EUR", "USD"]:
        assert currency in text, currency
    emails = [text_of(demo) for demo in corpus if demo.kind == "email"]
    assert emails and all(
        e.startswith("From: ") and "\nTo: " in e and "\nSubject: " in e for e in emails
    )


def test_the_same_seed_writes_the_same_bytes(tmp_path):
    first = write_demo_corpus(tmp_path / "a", count=12, broken=2, seed=7)
    again = write_demo_corpus(tmp_path / "b", count=12, broken=2, seed=7)
    other = write_demo_corpus(tmp_path / "c", count=12, broken=2, seed=8)

    assert [f.path.read_bytes() for f in first] == [f.path.read_bytes() for f in again]
    assert [f.unique_word for f in first] != [f.unique_word for f in other]


def test_make_pdf_writes_one_page_per_entry_and_a_correct_xref():
    data = make_pdf(["First page, café €5", "Second (page) \\ two"], title="Two pages")

    pages, text = pdf_text(data)
    assert pages == 2
    assert "café €5" in text and "Second (page) \\ two" in text and "Two pages" in text
    xref_at = int(data.rsplit(b"startxref", 1)[1].split()[0])
    entries = data[xref_at:].split(b"\n")[3:]
    for number, entry in enumerate(entries[: entries.index(b"trailer")], start=1):
        offset = int(entry.split()[0])
        assert data[offset:].startswith(b"%d 0 obj" % number)


def test_make_pdf_flows_long_text_onto_more_pages():
    pages, text = pdf_text(make_pdf(["\n".join(f"line {n}" for n in range(120))]))

    assert pages == 3
    assert "line 0" in text and "line 119" in text


def test_make_docx_writes_paragraphs_a_table_and_a_header():
    data = make_docx(
        ["Dear reader,", "Regards"],
        title="Letter",
        table=[["Item", "Price"], ["Tea", "£2.50"]],
        table_after=1,
        header="ACME",
    )

    document = docx.Document(io.BytesIO(data))
    assert [p.text for p in document.paragraphs] == ["Letter", "Dear reader,", "Regards"]
    assert document.tables[0].cell(1, 1).text == "£2.50"
    assert document.sections[0].header.paragraphs[0].text == "ACME"


def test_the_command_line_writes_a_corpus(tmp_path, capsys):
    main([str(tmp_path / "out"), "--count", "5", "--broken", "1"])

    assert len(list(Path(tmp_path / "out").iterdir())) == 5
    assert "wrote 5 files" in capsys.readouterr().out


def test_more_broken_files_than_files_is_refused(tmp_path):
    with pytest.raises(ValueError):
        write_demo_corpus(tmp_path, count=2, broken=3)


def test_the_demo_is_uploaded_once_however_often_serve_demo_starts(
        corpus: list[DemoFile], settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from docflow.api.app import create_app

    with TestClient(create_app(settings, configure_logs=False)) as client:
        first = upload_demo(client, corpus)
        again = upload_demo(client, corpus)
        assert again == first
        listing = client.get("/api/documents", params={"batch_id": first, "limit": 1,
                                                             "count": True}).json()
        assert listing["total"] == len(corpus)
        assert client.get("/api/batches", params={"count": True}).json()["total"] == 1
