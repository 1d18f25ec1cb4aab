"""Pictures that decorate an e-mail or an Office file (signature logos, icons) never become
documents; real attachments, big pasted pictures and inline PDFs still do."""

from __future__ import annotations

import email.message
import email.policy

import pytest
from PIL import Image

from docflow.pipeline import Limits, detect, extract
from docflow.pipeline.extract.inline_images import is_decoration
from tests.fixtures import make_docx, make_ole2, make_pdf
from tests.fixtures_mail import make_msg
from tests.fixtures_office import rewrite_zip
from tests.pipeline.test_formats_embedded import ole10_native
from tests.scans import image_bytes

LIMITS = Limits()
LOGO = image_bytes(Image.new("RGB", (253, 45), (200, 30, 30)), "PNG")  # an Outlook signature
ICON = image_bytes(Image.new("RGB", (27, 27), (30, 30, 200)), "PNG")
PHOTO = image_bytes(Image.effect_noise((800, 600), 60).convert("RGB"), "JPEG")  # a pasted scan


def read(data: bytes, filename: str):
    return extract(data, detect(data, filename, LIMITS), LIMITS)


def _mail(html: str, parts: list[tuple[bytes, str, dict[str, str]]]) -> bytes:
    """An e-mail with a plain and an HTML body, then `parts`: (data, MIME type, headers)."""
    message = email.message.EmailMessage(policy=email.policy.default)
    message["Subject"] = "Quarterly numbers"
    message.set_content("Hello Bob, see below.")
    message.add_alternative(html, subtype="html")
    message.make_mixed()
    for data, mime, headers in parts:
        maintype, subtype = mime.split("/")
        part = email.message.EmailMessage()
        part.set_content(data, maintype=maintype, subtype=subtype)
        for name, value in headers.items():
            del part[name]
            part[name] = value
        message.attach(part)
    return message.as_bytes()


@pytest.mark.parametrize(("data", "decoration"), [
    (LOGO, True), (ICON, True), (PHOTO, False),
    (image_bytes(Image.new("L", (1200, 150), 255), "PNG"), True),  # a wide, short banner
    (image_bytes(Image.new("L", (300, 300), 255), "GIF"), False),
    (b"\x01\x00\x00\x00 an EMF picture whose size the header does not tell", True),
])
def test_a_decoration_is_a_picture_whose_shorter_side_is_under_200_pixels(
        data: bytes, decoration: bool) -> None:
    assert is_decoration(data) is decoration


def test_a_signature_logo_shown_by_cid_is_not_a_child_even_marked_as_an_attachment() -> None:
    # As Gmail and Outlook send them: the logo carries a Content-ID the HTML shows, and is
    # sometimes marked `attachment` all the same.
    mail = _mail('<p>Hello</p><img src="cid:logo@sig"><img src="cid:icon">', [
        (LOGO, "image/png", {"Content-ID": "<logo@sig>",
                             "Content-Disposition": 'attachment; filename="logo.png"'}),
        (ICON, "image/png", {"Content-ID": "<icon>"}),
    ])
    extracted = read(mail, "mail.eml")
    assert extracted.children == []
    assert "Attachments:" not in extracted.text


def test_a_big_picture_pasted_into_the_body_is_a_child() -> None:
    mail = _mail('<p>The receipt:</p><img src="cid:scan1">', [
        (PHOTO, "image/jpeg", {"Content-ID": "<scan1>",
                               "Content-Disposition": 'inline; filename="receipt.jpg"'}),
    ])
    assert [c.filename for c in read(mail, "mail.eml").children] == ["receipt.jpg"]


def test_a_small_picture_attached_on_purpose_is_still_a_child() -> None:
    mail = _mail("<p>My new avatar attached.</p>", [
        (ICON, "image/png", {"Content-Disposition": 'attachment; filename="avatar.png"'}),
    ])
    assert [c.filename for c in read(mail, "mail.eml").children] == ["avatar.png"]


def test_an_inline_pdf_is_a_child() -> None:
    pdf = make_pdf(["Signed contract"])
    mail = _mail('<p>Contract inline</p>', [
        (pdf, "application/pdf", {"Content-Disposition": 'inline; filename="contract.pdf"',
                                  "Content-ID": "<contract>"}),
    ])
    assert [c.filename for c in read(mail, "mail.eml").children] == ["contract.pdf"]


def test_a_logo_in_multipart_related_is_skipped_and_a_big_photo_there_kept() -> None:
    message = email.message.EmailMessage()
    message["Subject"] = "Newsletter"
    message.set_content("Plain text")
    message.add_alternative('<p><img src="cid:logo"> <img src="cid:photo"></p>', subtype="html")
    html_part = message.get_payload()[1]
    html_part.add_related(LOGO, "image", "png", cid="<logo>", filename="logo.png")
    html_part.add_related(PHOTO, "image", "jpeg", cid="<photo>", filename="site.jpg")
    assert [c.filename for c in read(message.as_bytes(), "news.eml").children] == ["site.jpg"]


def test_outlook_inline_logos_are_skipped_and_real_attachments_kept() -> None:
    msg = make_msg(
        "Numbers", body="See attached.",
        html=b'<p>See attached.</p><img src="cid:image001.png@01DA">',
        attachments=[("report.pdf", make_pdf(["Q3 report"])), ("avatar.png", ICON)],
        inline=[("image001.png", LOGO, "image001.png@01DA", False),  # shown by cid
                ("image002.png", ICON, "image002.png@01DA", True),  # hidden
                ("pasted.jpg", PHOTO, "pasted@01DA", True)],  # hidden, but a real picture
    )
    extracted = read(msg, "numbers.msg")
    assert [c.filename for c in extracted.children] == ["report.pdf", "avatar.png", "pasted.jpg"]


def test_an_icon_embedded_in_a_word_document_is_not_a_child() -> None:
    docx = rewrite_zip(make_docx(["See the embedded files."]), {
        "word/embeddings/oleObject1.bin": make_ole2(
            {"\x01Ole10Native": ole10_native("icon.png", ICON)}),
        "word/embeddings/oleObject2.bin": make_ole2(
            {"\x01Ole10Native": ole10_native("notes.txt", b"Dear Ann, the notes.")}),
        "word/media/image1.png": PHOTO,  # a picture on the page: the host's own content
    })
    assert [c.filename for c in read(docx, "memo.docx").children] == ["notes.txt"]
