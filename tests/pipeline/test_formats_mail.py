"""E-mail (EML) and Outlook (MSG): headers and body as text, attachments as child documents."""

from __future__ import annotations

import email.message

import pytest

from docflow.pipeline import EncryptedDocument, Limits, detect, extract, process_document
from docflow.pipeline.extract.rtf_compressed import decompress_rtf
from tests.fixtures import make_docx, make_pdf
from tests.fixtures_mail import make_eml, make_msg

LIMITS = Limits()


def read(data: bytes, filename: str):
    return extract(data, detect(data, filename, LIMITS), LIMITS)


# --- EML -------------------------------------------------------------------------------------


def test_an_email_gives_headers_body_and_its_attachments_as_children() -> None:
    pdf = make_pdf(["Invoice INV-7, amount due $120.00"])
    docx = make_docx(["Signed contract"])
    eml = make_eml(
        "Invoice INV-7",
        "Hello Bob,\nplease find the invoice attached.\n",
        attachments=[("invoice.pdf", pdf), ("contract.docx", docx)],
    )
    extracted = read(eml, "mail.eml")
    assert extracted.text.split("\n") == [
        "Subject: Invoice INV-7",
        "From: Ann Example <ann@example.com>",
        "To: Bob Example <bob@example.com>",
        "Date: Tue, 12 Mar 2024 09:30:00 +0100",
        "",
        "Hello Bob,",
        "please find the invoice attached.",
        "",
        "Attachments: invoice.pdf, contract.docx",
    ]
    assert [(c.filename, c.path, c.data) for c in extracted.children] == [
        ("invoice.pdf", "invoice.pdf", pdf),
        ("contract.docx", "contract.docx", docx),
    ]
    assert "INV-7, amount due" not in extracted.text  # the attachment's text is the child's


def test_the_children_reach_the_processed_document_and_can_be_processed_alone() -> None:
    pdf = make_pdf(["Invoice INV-7, amount due $120.00"])
    result = process_document(make_eml("Invoice", "See attached.", attachments=[("a.pdf", pdf)]),
                              "mail.eml")
    (child,) = result.children
    assert "amount due" in process_document(child.data, child.filename).extracted.text


def test_an_html_only_email_is_read_as_text() -> None:
    message = email.message.EmailMessage()
    message["Subject"] = "=?utf-8?q?Gr=C3=BC=C3=9Fe?="
    message["From"] = "shop@example.com"
    message.set_content(
        "<html><body><h1>Order shipped</h1><script>track()</script><p>Thank you</p></body></html>",
        subtype="html",
    )
    text = read(message.as_bytes(), "order.eml").text
    assert text.split("\n") == [
        "Subject: Grüße", "From: shop@example.com", "", "Order shipped", "Thank you"
    ]


def test_multipart_alternative_uses_the_plain_text_once() -> None:
    eml = make_eml("Hi", "Plain version\n", html="<p>HTML version</p>")
    text = read(eml, "a.eml").text
    assert "Plain version" in text
    assert "HTML version" not in text


def test_an_attached_email_becomes_an_eml_child() -> None:
    inner = email.message.EmailMessage()
    inner["Subject"] = "Original request"
    inner.set_content("Inner body text")
    outer = email.message.EmailMessage()
    outer["Subject"] = "Fwd: Original request"
    outer.set_content("See below.")
    outer.add_attachment(inner)
    extracted = read(outer.as_bytes(), "fwd.eml")
    (child,) = extracted.children
    assert child.filename == "Original request.eml"
    assert "Inner body text" in read(child.data, child.filename).text
    assert "Inner body text" not in extracted.text


def test_images_shown_inside_the_html_body_are_not_attachments() -> None:
    message = email.message.EmailMessage()
    message["Subject"] = "Newsletter"
    message.set_content("Plain text")
    message.add_alternative('<p>Look <img src="cid:logo"></p>', subtype="html")
    html_part = message.get_payload()[1]
    html_part.add_related(b"\x89PNG\r\n\x1a\n", "image", "png", cid="<logo>", filename="logo.png")
    assert read(message.as_bytes(), "news.eml").children == []


def test_a_body_in_a_legacy_charset_and_a_file_saved_as_utf16() -> None:
    message = email.message.EmailMessage()
    message["Subject"] = "Préavis"
    message.set_content("Le café coûte 5 €.", charset="cp1252")
    assert "Le café coûte 5 €." in read(message.as_bytes(), "a.eml").text
    utf16 = make_eml("Grüße", "Schöne Grüße aus Köln\n").decode().encode("utf-16-be")
    assert "Schöne Grüße aus Köln" in read(utf16, "saved.eml").text


def test_email_content_named_txt_is_read_as_email() -> None:
    eml = make_eml("Meeting", "Tomorrow at ten.\n")
    assert detect(eml, "mail.txt", LIMITS).format == "eml"
    notes = b"Subject: my notes\nTopic: budget\n\nNothing else."
    assert detect(notes, "notes.txt", LIMITS).format == "text"


@pytest.mark.parametrize(
    ("content_type", "scheme"),
    [
        ('multipart/encrypted; protocol="application/pgp-encrypted"', "PGP"),
        ('application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"', "S/MIME"),
    ],
)
def test_an_encrypted_email_is_encrypted(content_type: str, scheme: str) -> None:
    eml = (
        "From: a@example.com\nTo: b@example.com\nSubject: secret\nMIME-Version: 1.0\n"
        f"Content-Type: {content_type}; boundary=x\n\n--x\nContent-Type: application/octet-stream"
        "\n\nhQEMA0DR/ciphertext\n--x--\n"
    ).encode()
    with pytest.raises(EncryptedDocument) as error:
        read(eml, "secret.eml")
    assert scheme in error.value.message


# --- MSG -------------------------------------------------------------------------------------


def test_an_outlook_message_gives_headers_body_and_attachment_children() -> None:
    msg = make_msg(
        "Quarterly numbers",
        "Please find the report attached.",
        recipients=[("Bob", "bob@example.com", 1), ("Carol", "carol@example.com", 2)],
        attachments=[("report.txt", b"Revenue 42"), ("scan.pdf", make_pdf(["x" * 3000]))],
    )
    extracted = read(msg, "numbers.msg")
    assert extracted.text.split("\n") == [
        "Subject: Quarterly numbers",
        "From: Ann Example <ann@example.com>",
        "To: Bob <bob@example.com>",
        "Cc: Carol <carol@example.com>",
        "",
        "Please find the report attached.",
        "",
        "Attachments: report.txt, scan.pdf",
    ]
    assert [(c.filename, len(c.data)) for c in extracted.children] == [
        ("report.txt", 10),
        ("scan.pdf", len(make_pdf(["x" * 3000]))),
    ]


def test_an_outlook_message_with_only_an_html_body() -> None:
    msg = make_msg("Offer", html=b"<html><body><p>Special offer</p><p>Today only</p></body></html>")
    assert read(msg, "offer.msg").text.endswith("Special offer\nToday only")


def test_an_outlook_message_with_only_a_compressed_rtf_body() -> None:
    # The example from MS-OXRTFCP: "{\rtf1\ansi\ansicpg1252\pard hello world}\r\n"
    compressed = bytes.fromhex(
        "2d0000002b0000004c5a4675f1c5c7a703000a00726370673132354232"
        "0af32068656c090020627705b06c647d0a800fa0"
    )
    assert decompress_rtf(compressed, 1000) == b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n"
    assert read(make_msg("Old", rtf_compressed=compressed), "old.msg").text.endswith("hello world")


@pytest.mark.parametrize(
    "msg",
    [
        make_msg("Secret", message_class="IPM.Note.SMIME",
                 attachments=[("smime.p7m", b"0\x82\x01")]),
        make_msg("", transport_headers="From: a@example.com\r\nContent-Type: multipart/"
                 'encrypted; protocol="application/pgp-encrypted"; boundary="x"\r\n'),
    ],
    ids=["s-mime", "pgp"],
)
def test_an_encrypted_outlook_message_is_encrypted(msg: bytes) -> None:
    with pytest.raises(EncryptedDocument):
        read(msg, "secret.msg")
