"""HTML to readable text: charset from BOM, <meta>, then detection; blocks on their own lines.

Parsed with lxml's HTML parser (forgiving like a browser, never fetching anything) and walked
once: script, style and other invisible elements are dropped, white space collapses as a
browser collapses it (except in <pre>), block elements start new lines and table cells are
tab-separated.
"""

from __future__ import annotations

import re

from lxml import etree

from ..encoding import bom_encoding, decode_text, normalize_charset
from ..types import DetectedType, ExtractedText, Limits
from .registry import register
from .text import xml_declared_encoding

_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_INVISIBLE = frozenset(
    {"script", "style", "noscript", "template", "iframe", "object", "embed", "svg"}
)
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hr", "html", "legend", "li", "main", "nav", "ol", "p", "pre",
    "section", "summary", "table", "tbody", "tfoot", "thead", "title", "tr", "ul",
})
_CELLS = frozenset({"td", "th"})
_PREFORMATTED = frozenset({"pre", "textarea", "listing", "plaintext"})
_WHITESPACE = re.compile(r"[ \t\n\r\f\v]+")  # HTML collapses these, not Unicode spaces like nbsp
_CELL_GAP = re.compile(r"(?<! ) *\t[ \t]*")  # from a run's first space only: stays linear
_PARSER_OPTIONS = {"remove_comments": True, "remove_pis": True, "no_network": True}


@register("html")
def extract_html(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    return ExtractedText(text=html_to_text(decode_text(data, declared=declared_charset(data))))


def declared_charset(data: bytes) -> str | None:
    """The page's own charset: BOM, then <meta charset>, then an XML prolog; None if unstated."""
    if bom_encoding(data):
        return None  # decode_text honours the BOM itself, and it outranks any declaration
    head = data[:4096]  # HTML requires the declaration within the first 1024 bytes; be lenient
    match = _META_CHARSET.search(head)
    declared = match.group(1).decode("ascii") if match else xml_declared_encoding(head)
    return declared if normalize_charset(declared) else None


def html_to_text(html: str) -> str:
    """Visible text of an HTML page with block elements on their own lines, cells tab-separated."""
    if not html.strip():
        return ""
    # Bytes with an explicit encoding: lxml refuses str input that carries an XML declaration.
    parser = etree.HTMLParser(encoding="utf-8", **_PARSER_OPTIONS)
    root = etree.fromstring(html.encode("utf-8", "surrogatepass"), parser)
    if root is None:
        return ""
    pieces: list[str] = []
    _walk(root, pieces)
    lines = (_CELL_GAP.sub("\t", line).strip(" \t") for line in "".join(pieces).split("\n"))
    return "\n".join(line for line in lines if line)


def _walk(root: etree._Element, out: list[str]) -> None:
    # An explicit stack, not recursion: a page may nest elements thousands deep.
    stack: list[tuple[etree._Element, bool, bool]] = [(root, False, False)]  # element, pre, done
    while stack:
        element, pre, done = stack.pop()
        tag = element.tag if isinstance(element.tag, str) else ""
        if done:  # everything inside has been written: close the element, then its tail
            if tag in _CELLS:
                out.append("\t")
            if tag in _BLOCKS:
                out.append("\n")
            if element.tail:
                out.append(element.tail if pre else _WHITESPACE.sub(" ", element.tail))
            continue
        if not tag or tag.lower() in _INVISIBLE:
            if element.tail:  # text after a <script> or a comment is still visible
                out.append(element.tail if pre else _WHITESPACE.sub(" ", element.tail))
            continue
        tag = tag.lower()
        inner_pre = pre or tag in _PREFORMATTED
        if tag in _BLOCKS or tag == "br":
            out.append("\n")
        if element.text:
            out.append(element.text if inner_pre else _WHITESPACE.sub(" ", element.text))
        stack.append((element, pre, True))
        stack.extend((child, inner_pre, False) for child in reversed(element))
