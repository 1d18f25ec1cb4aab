"""HTML to readable text: charset from BOM, <meta>, then detection; blocks on their own lines."""

from __future__ import annotations

import re
import warnings

from bs4 import BeautifulSoup, NavigableString, XMLParsedAsHTMLWarning

from ..encoding import bom_encoding, decode_text, normalize_charset
from ..types import DetectedType, ExtractedText, Limits
from .registry import register
from .text import xml_declared_encoding

_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_INVISIBLE = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg")
_BLOCKS = (
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hr", "html", "legend", "li", "main", "nav", "ol", "p", "pre",
    "section", "summary", "table", "tbody", "tfoot", "thead", "title", "tr", "ul",
)
_PREFORMATTED = ("pre", "textarea", "listing", "plaintext")
_WHITESPACE = re.compile(r"[ \t\n\r\f\v]+")  # HTML collapses these, not Unicode spaces like nbsp
_CELL_GAP = re.compile(r" *\t[ \t]*")


@register("html")
def extract_html(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    text = decode_text(data, declared=declared_charset(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)  # XHTML is HTML to us
        soup = BeautifulSoup(text, "lxml")
    return ExtractedText(text=html_to_text(soup))


def declared_charset(data: bytes) -> str | None:
    """The page's own charset: BOM, then <meta charset>, then an XML prolog; None if unstated."""
    if bom_encoding(data):
        return None  # decode_text honours the BOM itself, and it outranks any declaration
    head = data[:4096]  # HTML requires the declaration within the first 1024 bytes; be lenient
    match = _META_CHARSET.search(head)
    declared = match.group(1).decode("ascii") if match else xml_declared_encoding(head)
    return declared if normalize_charset(declared) else None


def html_to_text(soup: BeautifulSoup) -> str:
    """Visible text with block elements on their own lines and table cells tab-separated."""
    for tag in soup.find_all(_INVISIBLE):
        tag.decompose()
    for string in soup.find_all(string=True):
        # Exact type: comments, doctypes and CDATA subclass NavigableString and are skipped.
        if type(string) is NavigableString and not string.find_parent(_PREFORMATTED):
            collapsed = _WHITESPACE.sub(" ", string)
            if collapsed != string:
                string.replace_with(collapsed)
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for cell in soup.find_all(("td", "th")):
        cell.insert_after("\t")
    for block in soup.find_all(_BLOCKS):
        block.insert_before("\n")
        block.insert_after("\n")
    lines = (_CELL_GAP.sub("\t", line).strip(" \t") for line in soup.get_text().split("\n"))
    return "\n".join(line for line in lines if line)
