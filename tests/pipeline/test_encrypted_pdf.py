"""Only a PDF that needs a password nobody gave is `encrypted`.

Banks send statements with an owner password only (printing or copying restricted, the user
password empty): every viewer opens them without asking, and so must docflow.
"""

from __future__ import annotations

import pytest
from fpdf import FPDF
from fpdf.enums import EncryptionMethod

from docflow.pipeline import process_document
from docflow.pipeline.errors import EncryptedDocument

METHODS = [EncryptionMethod.RC4, EncryptionMethod.AES_128, EncryptionMethod.AES_256]


def _statement(method: EncryptionMethod, user_password: str = "") -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Statement of account 4711, closing balance 1,234.56 EUR")
    pdf.set_encryption(owner_password="bank-owner-secret", user_password=user_password,
                       encryption_method=method)
    return bytes(pdf.output())


@pytest.mark.parametrize("method", METHODS, ids=lambda method: method.name)
def test_a_pdf_with_only_an_owner_password_opens_and_reads(method: EncryptionMethod) -> None:
    data = _statement(method)
    assert b"/Encrypt" in data  # it really is encrypted
    processed = process_document(data, "statement.pdf")
    assert "closing balance 1,234.56 EUR" in processed.extracted.text
    assert not processed.detected.encrypted


@pytest.mark.parametrize("method", METHODS, ids=lambda method: method.name)
def test_a_pdf_that_needs_a_user_password_is_encrypted(method: EncryptionMethod) -> None:
    with pytest.raises(EncryptedDocument) as error:
        process_document(_statement(method, user_password="1234"), "statement.pdf")
    assert error.value.code == "encrypted"
    assert "password" in error.value.message
