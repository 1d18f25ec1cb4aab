"""E-mail (EML, MHT): the headers a person reads, the body, and the attachments as children.

The parent's text is Subject/From/To/Cc/Date, the body (the plain-text alternative when it
has words, otherwise the HTML one as text) and a line naming the attachments; each attachment,
and each attached e-mail, becomes a ChildDocument that is processed on its own. A picture the
body shows inline (a `cid:` reference, a Content-ID in multipart/related, or disposition
inline) is a child only when it is big enough to be a document: a pasted receipt or
screenshot is, a signature logo is not (see inline_images).
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import mimetypes
import re
from email.message import Message

from ..encoding import bom_encoding, decode_text
from ..errors import EncryptedDocument
from ..types import DetectedType, ExtractedText, Limits
from .children import ChildCollector, safe_filename
from .html import declared_charset, html_to_text
from .inline_images import is_decoration, looks_like_image
from .registry import register

_HEADERS = ("Subject", "From", "To", "Cc", "Date")
_ENCRYPTED_TYPES = ("multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime")
_MAX_NESTING = 50  # MIME parts inside parts; real mail nests a handful deep
_CID_REFERENCE = re.compile(rb"cid:([^\s\"'<>)]+)", re.IGNORECASE)
_BROKEN_ENCODING = (  # defects Python's decoder records when it decodes a part only in part
    email.errors.InvalidBase64CharactersDefect,
    email.errors.InvalidBase64PaddingDefect,
    email.errors.InvalidBase64LengthDefect,
)


@register("eml")
def extract_email(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    if bom_encoding(data) not in (None, "utf-8") or b"\x00" in data[:1024]:
        data = decode_text(data).encode("utf-8")  # a whole message saved as UTF-16
    # compat32: the modern policy parses every header into objects, several times slower on
    # real mail; headers are decoded here only for the few lines shown.
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    _refuse_encrypted(message)
    reader = _MessageReader(limits, _referenced_cids(message))
    reader.visit(message, depth=0)
    lines = [f"{name}: {value}" for name in _HEADERS if (value := header(message, name))]
    if reader.body:
        lines += ["", *reader.body]
    names = [child.filename for child in reader.children.found]
    if names:
        lines += ["", "Attachments: " + ", ".join(names)]
    return ExtractedText(
        text="\n".join(lines), skipped=reader.skipped, children=reader.children.found
    )


def header(message: Message, name: str) -> str:
    """A header as text: encoded words decoded, unknown charsets and raw 8-bit bytes guessed."""
    raw = message.get(name)
    if raw is None:
        return ""
    raw = str(raw)
    try:
        parts = email.header.decode_header(raw)
    except (ValueError, email.errors.HeaderParseError):
        parts = [(raw, None)]
    try:
        value = str(email.header.make_header(parts))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        value = "".join(
            part if isinstance(part, str) else decode_text(part, declared=charset)
            for part, charset in parts
        )
    if any("\udc80" <= char <= "\udcff" for char in value):  # undecoded 8-bit header bytes
        value = decode_text(value.encode("utf-8", "surrogateescape"))
    return " ".join(value.split())


def _refuse_encrypted(message: Message) -> None:
    content_type = message.get_content_type()
    smime_type = str(message.get_param("smime-type") or "").lower()
    if content_type in _ENCRYPTED_TYPES and smime_type != "signed-data":
        scheme = "PGP" if content_type == "multipart/encrypted" else "S/MIME"
        raise EncryptedDocument(
            f"The e-mail is encrypted ({scheme}); decrypt it in your mail program and upload "
            "the decrypted message."
        )


def _referenced_cids(message: Message) -> set[str]:
    """The Content-IDs the HTML bodies show as `cid:` pictures, without their angle brackets."""
    found: set[str] = set()
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found.update(m.decode("latin-1").lower()
                             for m in _CID_REFERENCE.findall(payload))
    return found


class _MessageReader:
    def __init__(self, limits: Limits, shown_cids: set[str]) -> None:
        self.body: list[str] = []
        self.skipped: list[str] = []  # parts that could not be read, named for people
        self.children = ChildCollector(limits, "e-mail")
        self.shown_cids = shown_cids  # pictures the HTML body shows inline

    def visit(self, part: Message, depth: int, related: bool = False, body: bool = True) -> None:
        """Read `part`; with `body` False only its attachments count (its text was read in
        another form)."""
        if depth > _MAX_NESTING:
            self.skipped.append("Parts nested more than 50 deep were skipped.")
            return
        content_type = part.get_content_type()
        if content_type == "message/rfc822" or _is_attachment(part, related):
            self._attach(part, related)
        elif content_type == "multipart/alternative":
            self._visit_alternative(part, depth, body)
        elif part.is_multipart():
            inner_related = content_type == "multipart/related"
            for sub in _subparts(part):
                self.visit(sub, depth + 1, inner_related, body)
        elif content_type in ("text/plain", "text/html") and body:
            text = _part_text(part)
            if text.strip():
                self.body.append(text.strip())

    def _visit_alternative(self, part: Message, depth: int, body: bool = True) -> None:
        options = _subparts(part)
        for option in options:
            if option.get_content_type() == "text/plain" and _part_text(option).strip():
                self.visit(option, depth + 1, body=body)
                if options[-1] is not option and options[-1].is_multipart():
                    # The HTML version's own pictures (a pasted scan) are files all the same.
                    self.visit(options[-1], depth + 1, body=False)
                return
        if options:  # the richest version comes last: HTML, or HTML with its images
            self.visit(options[-1], depth + 1, body=body)

    def _attach(self, part: Message, related: bool = False) -> None:
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            message = inner[0] if isinstance(inner, list) and inner else None
            if not isinstance(message, Message):
                self.skipped.append("An attached message is empty or damaged; it was skipped.")
                return
            data = _message_bytes(message)
            subject = header(message, "Subject") or "attached message"
            name = safe_filename(f"{subject[:80]}.eml")
        else:
            data = part.get_payload(decode=True) or b""
            name = part.get_filename() or ""
            if any(isinstance(defect, _BROKEN_ENCODING) for defect in part.defects):
                shown = safe_filename(name) if name else "an unnamed attachment"
                self.skipped.append(
                    f"The attachment {shown!r} is damaged in the message (its base64 encoding "
                    "is broken): what could be decoded was kept, the rest is missing.")
            if self._shown_inline(part, related) and _decoration(part, data, name):
                return  # a logo or icon of the body, not a file someone attached
            if not name:
                extension = mimetypes.guess_extension(part.get_content_type()) or ".bin"
                name = f"attachment-{len(self.children.found) + 1}{extension}"
        if data:
            self.children.add(name, data, path=name)


    def _shown_inline(self, part: Message, related: bool) -> bool:
        content_id = _content_id(part)
        disposition = (part.get_content_disposition() or "").lower()
        return bool(content_id) and (content_id in self.shown_cids or related) \
            or disposition == "inline"


def _content_id(part: Message) -> str:
    return str(part.get("Content-ID") or "").strip().strip("<>").lower()


def _decoration(part: Message, data: bytes, name: str) -> bool:
    return looks_like_image(data, part.get_content_type(), name) and is_decoration(data)


def _is_attachment(part: Message, related: bool) -> bool:
    if part.is_multipart():
        return False
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment":
        return True
    if related and part.get("Content-ID"):
        # A picture the HTML body shows: a child if big enough (see _attach); other related
        # resources (style sheets, fonts) are part of the body, not files someone attached.
        return part.get_content_maintype() == "image"
    body_type = part.get_content_type() in ("text/plain", "text/html")
    return bool(part.get_filename()) and not (body_type and disposition == "inline")


def _subparts(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [sub for sub in payload if isinstance(sub, Message)] if isinstance(payload, list) else []


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset()
    if part.get_content_type() == "text/html":
        html = decode_text(payload, declared=charset or declared_charset(payload))
        return html_to_text(html)
    return decode_text(payload, declared=charset)


def _message_bytes(message: Message) -> bytes:
    try:
        return message.as_bytes(policy=email.policy.compat32)
    except (UnicodeError, LookupError, ValueError):  # 8-bit headers a generator will not write
        return message.as_string(policy=email.policy.compat32).encode("utf-8", "surrogateescape")
