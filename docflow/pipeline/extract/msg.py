"""Outlook messages (MSG) from their MAPI property streams, read with olefile (BSD).

The text is laid out like an e-mail's: Subject/From/To/Cc/Date, the body (plain text, else the
HTML body as text, else the compressed RTF body), and a line naming the attachments. Each
attachment becomes a ChildDocument; an attached Outlook message is turned into an .eml child
(its own attachments inside it), so every child is a file docflow can read on its own. A
picture the body shows inline (hidden, or referenced as `cid:`) is a child only when it is big
enough to be a document, never a signature logo (see inline_images).
"""

from __future__ import annotations

import codecs
import email.policy
import re
import struct
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import olefile

from ..encoding import decode_text
from ..errors import CorruptDocument, EncryptedDocument
from ..ole2 import OversizedStream, open_ole, read_stream
from ..types import DetectedType, ExtractedText, Limits
from .children import ChildCollector, safe_filename
from .html import declared_charset, html_to_text
from .inline_images import is_decoration, looks_like_image
from .registry import register
from .rtf_compressed import decompress_rtf

_LABEL = "Outlook message"
_ATTACHMENT, _RECIPIENT = "__attach_version1.0_#", "__recip_version1.0_#"
_EMBEDDED_MESSAGE = "__substg1.0_3701000D"
_PROPERTIES = "__properties_version1.0"
# MAPI property ids
_SUBJECT, _SENDER_NAME, _SENDER_EMAIL, _SENDER_SMTP = 0x0037, 0x0C1A, 0x0C1F, 0x5D01
_DISPLAY_TO, _DISPLAY_CC, _HEADERS, _MESSAGE_CLASS = 0x0E04, 0x0E03, 0x007D, 0x001A
_BODY, _HTML, _RTF = 0x1000, 0x1013, 0x1009
_SUBMIT_TIME, _DELIVERY_TIME = 0x0039, 0x0E06
_MESSAGE_CODEPAGE, _INTERNET_CODEPAGE = 0x3FFD, 0x3FDE
_ATTACH_LONG_NAME, _ATTACH_NAME, _DISPLAY_NAME, _ATTACH_DATA = 0x3707, 0x3704, 0x3001, 0x3701
_ATTACH_MIME, _ATTACH_HIDDEN, _ATTACH_CONTENT_ID = 0x370E, 0x7FFE, 0x3712
_SMTP_ADDRESS, _EMAIL_ADDRESS, _RECIPIENT_TYPE = 0x39FE, 0x3003, 0x0C15
_ENCRYPTED_CLASSES = ("ipm.note.smime", "ipm.note.rpmsg")  # S/MIME, rights-managed (IRM)
_ENCRYPTED_MIME = {
    "application/pgp-encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime"
}
_CODEPAGES = {65001: "utf-8", 20127: "ascii", 28591: "latin-1", 1200: "utf-16-le"}
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_CID_REFERENCE = re.compile(r"cid:([^\s\"'<>)]+)", re.IGNORECASE)


@register("msg")
def extract_msg(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    try:
        ole = open_ole(data)
    except (OSError, ValueError, struct.error, IndexError) as exc:
        raise CorruptDocument(
            "The Outlook message could not be opened; it may be damaged or incomplete. "
            "Save it from Outlook again."
        ) from exc
    try:
        message = _Storage(ole, [], len(data), top_level=True)
        _refuse_encrypted(message)
        children = ChildCollector(limits, _LABEL)
        fields = _fields(message)
        skipped: list[str] = []
        for name, payload in _attachments(message, limits, 0, skipped):
            children.add(name, payload, path=name)
        lines = [f"{name}: {value}" for name, value in fields.items() if value]
        body = _body(message, limits)
        if body.strip():
            lines += ["", body.strip()]
        if children.found:
            lines += ["", "Attachments: " + ", ".join(c.filename for c in children.found)]
        return ExtractedText(text="\n".join(lines), children=children.found, skipped=skipped)
    finally:
        ole.close()


class _Storage:
    """One message, attachment or recipient: its property streams under `prefix`."""

    def __init__(
        self, ole: olefile.OleFileIO, prefix: list[str], file_size: int, top_level: bool = False
    ) -> None:
        self.ole = ole
        self.prefix = prefix
        self.file_size = file_size
        # The fixed-size property table starts after a header: 32 bytes in a message, 24 in
        # an embedded message, 8 in an attachment or recipient.
        header = 32 if top_level else 24 if prefix and prefix[-1] == _EMBEDDED_MESSAGE else 8
        self.fixed = _fixed_properties(self.stream(_PROPERTIES) or b"", header)

    def stream(self, name: str) -> bytes | None:
        path = [*self.prefix, name]
        if not self.ole.exists(path):
            return None
        # A damaged sector table can declare a stream larger than the whole file: refuse it
        # rather than let olefile follow the chain round and round.
        try:
            return read_stream(self.ole, path, self.file_size)
        except OversizedStream as exc:
            raise CorruptDocument(
                "The Outlook message is damaged (a part claims to be larger than the file); "
                "save it from Outlook again."
            ) from exc

    def text(self, prop: int) -> str:
        unicode = self.stream(f"__substg1.0_{prop:04X}001F")
        if unicode is not None:
            return unicode.decode("utf-16-le", "replace").rstrip("\x00")
        narrow = self.stream(f"__substg1.0_{prop:04X}001E")
        if narrow is not None:
            return narrow.decode(self.codepage(), "replace").rstrip("\x00")
        return ""

    def binary(self, prop: int) -> bytes | None:
        return self.stream(f"__substg1.0_{prop:04X}0102")

    def integer(self, prop: int) -> int | None:
        value = self.fixed.get(prop)
        return struct.unpack_from("<i", value)[0] if value is not None else None

    def time(self, prop: int) -> datetime | None:
        value = self.fixed.get(prop)
        if value is None:
            return None
        ticks = struct.unpack_from("<Q", value)[0]  # 100 ns since 1601
        try:
            return _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)
        except OverflowError:
            return None

    def codepage(self) -> str:
        for prop in (_INTERNET_CODEPAGE, _MESSAGE_CODEPAGE):
            number = self.integer(prop)
            if number:
                name = _CODEPAGES.get(number, f"cp{number}")
                try:
                    return codecs.lookup(name).name
                except LookupError:
                    continue
        return "cp1252"

    def substorages(self, kind: str) -> list[_Storage]:
        depth = len(self.prefix) + 1
        names = sorted(
            {
                entry[depth - 1]
                for entry in self.ole.listdir(streams=True, storages=True)
                if len(entry) > depth - 1
                and entry[: depth - 1] == self.prefix
                and entry[depth - 1].startswith(kind)
            }
        )
        return [_Storage(self.ole, [*self.prefix, name], self.file_size) for name in names]


def _fixed_properties(stream: bytes, header: int) -> dict[int, bytes]:
    """{property id: 8-byte value} from a __properties_version1.0 stream."""
    found = {}
    for offset in range(header, len(stream) - 15, 16):
        tag = struct.unpack_from("<I", stream, offset)[0]
        found[tag >> 16] = stream[offset + 8 : offset + 16]
    return found


def _refuse_encrypted(message: _Storage) -> None:
    message_class = message.text(_MESSAGE_CLASS).lower()
    content_type = _transport_header(message, "content-type").lower()
    if message_class.startswith(_ENCRYPTED_CLASSES):
        encrypted = "multipartsigned" not in message_class  # clear-signed mail is readable
    elif content_type.startswith(("multipart/encrypted", "application/pkcs7-mime")):
        encrypted = "signed-data" not in content_type
    else:  # PGP/MIME saved by Outlook: no body, the ciphertext as attachments
        kinds = {a.text(_ATTACH_MIME).lower() for a in message.substorages(_ATTACHMENT)}
        encrypted = not message.text(_BODY).strip() and bool(kinds & _ENCRYPTED_MIME)
    if encrypted:
        raise EncryptedDocument(
            "The Outlook message is encrypted (S/MIME, PGP or rights management); open it in "
            "Outlook with your key and save a decrypted copy to upload."
        )


def _transport_header(message: _Storage, name: str) -> str:
    headers = email.message_from_string(message.text(_HEADERS), policy=email.policy.compat32)
    return str(headers.get(name, ""))


def _fields(message: _Storage) -> dict[str, str]:
    sender = message.text(_SENDER_SMTP) or message.text(_SENDER_EMAIL)
    sender_name = message.text(_SENDER_NAME)
    if sender and "@" not in sender:
        sender = ""  # an Exchange directory name (/O=ORG/OU=...) means nothing to a reader
    sent = message.time(_SUBMIT_TIME) or message.time(_DELIVERY_TIME)
    return {
        "Subject": message.text(_SUBJECT),
        "From": f"{sender_name} <{sender}>" if sender_name and sender else sender_name or sender,
        "To": _recipients(message, 1) or message.text(_DISPLAY_TO),
        "Cc": _recipients(message, 2) or message.text(_DISPLAY_CC),
        "Date": _transport_header(message, "date") or (format_datetime(sent) if sent else ""),
    }


def _recipients(message: _Storage, kind: int) -> str:
    people = []
    for recipient in message.substorages(_RECIPIENT):
        if (recipient.integer(_RECIPIENT_TYPE) or 1) != kind:
            continue
        name = recipient.text(_DISPLAY_NAME)
        address = recipient.text(_SMTP_ADDRESS) or recipient.text(_EMAIL_ADDRESS)
        address = address if "@" in address else ""
        people.append(f"{name} <{address}>" if name and address and name != address else
                      name or address)
    return ", ".join(person for person in people if person)


def _body(message: _Storage, limits: Limits) -> str:
    body = message.text(_BODY)
    if body.strip():
        return body
    html = message.binary(_HTML)
    if html is None:
        html_text = message.text(_HTML)
        html = html_text.encode("utf-8") if html_text else None
    if html:
        declared = declared_charset(html) or message.codepage()
        return html_to_text(decode_text(html, declared=declared))
    compressed = message.binary(_RTF)
    if compressed:
        return _rtf_text(decompress_rtf(compressed, limits.max_unpacked_bytes), limits)
    return ""


def _rtf_text(rtf: bytes, limits: Limits) -> str:
    from .office import run_kreuzberg  # kreuzberg reads RTF; imported late, only when needed

    try:
        return run_kreuzberg(rtf, "rtf", "application/rtf", "RTF", limits).content
    except CorruptDocument:
        return ""


def _attachments(
    message: _Storage, limits: Limits, depth: int, skipped: list[str] | None = None
) -> list[tuple[str, bytes]]:
    """(name, bytes) of each attachment; one whose data cannot be read is named in
    `skipped` (where given) and the others are still read."""
    found = []
    shown = _shown_cids(message)
    for number, attachment in enumerate(message.substorages(_ATTACHMENT), start=1):
        hidden = bool(attachment.integer(_ATTACH_HIDDEN))
        content_id = attachment.text(_ATTACH_CONTENT_ID).strip().strip("<>").lower()
        name = (
            attachment.text(_ATTACH_LONG_NAME)
            or attachment.text(_ATTACH_NAME)
            or attachment.text(_DISPLAY_NAME)
        )
        try:
            data = attachment.binary(_ATTACH_DATA)
        except (CorruptDocument, OSError, ValueError, struct.error):
            if skipped is None:
                raise
            shown = safe_filename(name) if name else f"attachment {number}"
            skipped.append(f"The attachment {shown!r} is damaged in the message; it was "
                           "skipped.")
            continue
        embedded = [*attachment.prefix, _EMBEDDED_MESSAGE]
        if data is None and attachment.ole.exists(embedded) and depth < limits.max_archive_depth:
            inner = _Storage(attachment.ole, embedded, attachment.file_size)
            data = _as_eml(inner, limits, depth + 1)
            name = safe_filename((inner.text(_SUBJECT) or name or "attached message")[:80])
            name = f"{name}.eml"
        if hidden or (content_id and content_id in shown):  # the body shows it inline
            payload = data or b""
            if not looks_like_image(payload, attachment.text(_ATTACH_MIME), name) \
                    or is_decoration(payload):
                continue  # a logo or icon of the body (or a hidden part), not an attachment
        if data:
            found.append((name or f"attachment-{number}", data))
    return found


def _shown_cids(message: _Storage) -> set[str]:
    """The Content-IDs the HTML body shows as `cid:` pictures."""
    html = message.binary(_HTML)
    text = html.decode("latin-1") if html is not None else message.text(_HTML)
    return {cid.lower() for cid in _CID_REFERENCE.findall(text)}


def _as_eml(message: _Storage, limits: Limits, depth: int) -> bytes:
    """An attached Outlook message as an RFC 822 e-mail, its attachments inside it."""
    eml = EmailMessage(policy=email.policy.default.clone(linesep="\r\n", max_line_length=998))
    for name, value in _fields(message).items():
        if value:
            try:
                eml[name] = value
            except (ValueError, TypeError):
                eml[name] = value.encode("ascii", "replace").decode("ascii")
    eml.set_content(_body(message, limits) or "")
    for name, payload in _attachments(message, limits, depth):
        eml.add_attachment(payload, maintype="application", subtype="octet-stream", filename=name)
    return eml.as_bytes()
