"""The front door: bytes and a name in, a ProcessedDocument or a DocumentError out, never worse."""

from __future__ import annotations

import ast
import os
import random
from pathlib import Path

import pytest

import docflow.pipeline as pipeline
from docflow.pipeline import (
    CorruptDocument,
    DocumentError,
    EncryptedDocument,
    Limits,
    ProcessedDocument,
    process_document,
)
from tests.fixtures import make_docx, make_encrypted_docx, make_encrypted_pdf, make_pdf

INVOICE_PAGES = [
    "ACME Supplies Ltd\nINVOICE\nInvoice Number: INV-7\nInvoice Date: 2024-03-12\n"
    "Bill To: Northwind Traders",
    "Subtotal $1,000.00\nVAT $200.00\nAmount Due: $1,200.00\n"
    "Questions: billing@acme.example or (212) 555-0199",
]


def test_an_invoice_pdf_goes_through_every_stage() -> None:
    result = process_document(make_pdf(INVOICE_PAGES), "inv.pdf")
    assert isinstance(result, ProcessedDocument)
    assert result.detected.format == "pdf"
    assert result.extracted.page_count == 2
    assert result.classification.doc_type == "invoice"
    values = {(f.name, f.normalized) for f in result.fields}
    assert {
        ("date", "2024-03-12"),
        ("amount", "1200.00 USD"),
        ("email", "billing@acme.example"),
        ("phone", "+12125550199"),
    } <= values
    for field in result.fields:
        assert result.extracted.text[field.start : field.end] == field.value


def test_a_contract_docx_goes_through_every_stage() -> None:
    docx = make_docx(
        [
            "SERVICES AGREEMENT",
            "This Agreement is made on 1 April 2024 between Contoso (hereinafter the Client) "
            "and Fabrikam. WHEREAS the parties wish to cooperate, the parties agree.",
            "Governing law: England. IN WITNESS WHEREOF the parties have signed.",
        ],
        header="Confidential",
        footer="Contoso / Fabrikam",
    )
    result = process_document(docx, "agreement.docx")
    assert result.classification.doc_type == "contract"
    assert result.extracted.text.startswith("Confidential\n")
    assert ("date", "2024-04-01") in {(f.name, f.normalized) for f in result.fields}


def test_errors_carry_stable_codes_for_the_worker_to_record() -> None:
    cases = {
        b"": "empty",
        os.urandom(2048).replace(b"%PDF", b"----"): "unsupported_format",
        b"%PDF-1.4\n" + b"\x00garbage" * 100: "corrupt",
        make_encrypted_pdf(["secret"]): "encrypted",
        make_encrypted_docx(): "encrypted",
    }
    for data, code in cases.items():
        with pytest.raises(DocumentError) as error:
            process_document(data, "upload.pdf")
        assert error.value.code == code
        assert error.value.message.endswith(".")


def test_limits_are_passed_down() -> None:
    with pytest.raises(DocumentError) as error:
        process_document(make_pdf(["a", "b"]), "a.pdf", Limits(max_pages=1))
    assert error.value.code == "too_many_pages"


def _mutations(data: bytes, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        cut = rng.choice([len(damaged), rng.randrange(1, len(damaged))])
        out.append(bytes(damaged[:cut]))
    return out


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (make_pdf(INVOICE_PAGES), "a.pdf"),
        (make_docx(["Hello", [["a", "b"]]], header="h", footer="f"), "a.docx"),
        ('<html><meta charset="utf-8"><p>Grüße</p></html>'.encode(), "a.html"),
        ("Ærø, Grüße\n".encode("utf-16"), "a.txt"),
    ],
    ids=["pdf", "docx", "html", "utf16-text"],
)
def test_damaged_files_fail_only_with_document_errors(data: bytes, filename: str) -> None:
    for damaged in _mutations(data, count=40, seed=len(data)):
        try:
            result = process_document(damaged, filename)
        except DocumentError as error:
            assert error.code and error.message
        else:  # text, or none and a warning saying so
            codes = [w.code for w in result.warnings]
            assert result.extracted.text or codes == ["no_text"]


def test_an_encrypted_office_file_is_reported_as_encrypted_not_unsupported() -> None:
    with pytest.raises(EncryptedDocument):
        process_document(make_encrypted_docx(), "budget.xlsx")
    with pytest.raises(CorruptDocument):  # images are read by OCR; this one is only a signature
        process_document(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "photo.png")


def test_the_pipeline_imports_no_other_docflow_package() -> None:
    root = Path(pipeline.__file__).parent
    for source in root.rglob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                depth = len(source.relative_to(root).parts) - 1
                assert node.level <= depth + 1, f"{source} reaches outside the pipeline"
                if node.level == 0 and node.module:
                    assert not node.module.startswith("docflow.") or node.module.startswith(
                        "docflow.pipeline"
                    ), f"{source} imports {node.module}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("docflow") or alias.name.startswith(
                        "docflow.pipeline"
                    ), f"{source} imports {alias.name}"


# --- readable, but no text: completed with a warning, not a failure --------------------------


def _blank_photo() -> bytes:
    from PIL import Image

    from tests.scans import image_bytes

    return image_bytes(Image.new("RGB", (640, 480), (90, 140, 200)), "JPEG")


@pytest.mark.parametrize(("data", "filename"), [
    (_blank_photo(), "holiday.jpg"),
    (make_pdf(["", ""]), "blank-pages.pdf"),
    (make_docx([]), "blank.docx"),
])
def test_a_readable_file_without_text_completes_with_a_no_text_warning(
        data: bytes, filename: str) -> None:
    result = process_document(data, filename)
    assert result.extracted.text == ""
    assert [w.code for w in result.warnings] == ["no_text"]
    assert result.warnings[0].message.endswith(".")
    assert result.classification.doc_type == "other"
    assert result.fields == []
    assert result.embedding is None


def test_a_no_text_photo_never_reaches_the_classifier() -> None:
    class Refusing:  # a model's guess on "" would be its prior, not a type
        def embed(self, text: str) -> None:
            raise AssertionError("embedded an empty text")

        def classify(self, text: str, embedding: object) -> None:
            raise AssertionError("classified an empty text")

    result = process_document(_blank_photo(), "photo.jpg", classifier=Refusing())  # type: ignore[arg-type]
    assert result.classification.decider == "no_text"


@pytest.mark.parametrize(("data", "filename"), [
    (b"", "nothing.pdf"),  # zero bytes: nothing to read at all
    (b"  \n\n \t \n", "blank.txt"),  # a text file is only its characters: blank is broken
    (b"   ", "blank.csv"),
])
def test_files_with_nothing_to_read_still_fail_as_empty(data: bytes, filename: str) -> None:
    with pytest.raises(DocumentError) as error:
        process_document(data, filename)
    assert error.value.code == "empty"


def test_text_cut_at_the_limit_carries_a_truncated_warning() -> None:
    result = process_document(b"word " * 100, "long.txt", Limits(max_text_chars=50))
    assert [w.code for w in result.warnings] == ["truncated"]
    assert "50" in result.warnings[0].message
    assert process_document(b"word " * 5, "short.txt").warnings == []
