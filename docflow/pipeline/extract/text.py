"""Plain text, Markdown, CSV/TSV, JSON and XML: decoded as they are, nothing parsed."""

from __future__ import annotations

import re

from ..encoding import decode_text
from ..types import DetectedType, ExtractedText, Limits
from .registry import register

_XML_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([\w.:-]+)["']""")


@register("text", "markdown", "csv", "tsv", "json", "xml")
def extract_text(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    return ExtractedText(text=decode_text(data, declared=xml_declared_encoding(data)))


def xml_declared_encoding(data: bytes) -> str | None:
    """The encoding named in an `<?xml ... encoding="..."?>` prolog, if there is one."""
    match = _XML_DECLARATION.match(data[:1024])
    return match.group(1).decode("ascii") if match else None
