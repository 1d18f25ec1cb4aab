"""RTF text by our own reader: every destination a reader of the document sees, nothing else.

kreuzberg's RTF reader drops text boxes (`\\shp`), comments (`\\annotation`) and the text after
some ignorable destinations, so RTF has its own tokenizer: groups, control words with their
parameters, `\\'hh` bytes decoded with the font's or the document's code page, `\\uN` with its
`\\ucN` fallback skipped, `\\bin` data jumped over. Destinations that hold no reader-visible text
(font and colour tables, styles, document info, pictures, object data, field instructions,
shape properties) are skipped with everything inside them; an unknown `\\*` destination is
skipped too (that is what `\\*` asks for), while an unknown plain control word is ignored and the
text after it kept. kreuzberg is the second reader, for a file in which ours finds no text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import CorruptDocument, DocumentError
from ..types import DetectedType, ExtractedText, Limits
from .office import run_kreuzberg
from .registry import register

_MIME = "application/rtf"
_LABEL = "RTF"
_TOKENS = re.compile(
    rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?"  # 1, 2: control word and its parameter
    rb"|\\'([0-9a-fA-F]{2})"  # 3: a byte in the current code page
    rb"|\\([^a-zA-Z'])"  # 4: control symbol
    rb"|([{}])"  # 5: group
    rb"|([^\\{}\r\n]+)"  # 6: text
    rb"|[\r\n]+"  # line ends in the file are not text
    rb"|\\",  # a lone backslash at the very end
)
# What a skipped destination holds up to its next brace, in one match instead of a token at a
# time (pictures and style sheets are most of a real file's bytes): text, control symbols and
# control words, except those that still count there: \bin (its data may hold braces), \*,
# \uN and \ucN (fallback characters), a font table or footnote, and the words that set the
# document's code page wherever they stand.
_SKIPPED_RUN = re.compile(
    rb"(?:[^\\{}]+|\\[^a-zA-Z*]"
    rb"|\\(?!(?:bin|uc?|fonttbl|footnote|ansicpg|ansi|mac|pca?)(?![a-zA-Z]))[a-zA-Z]+-?\d* ?)++"
)
# Destinations whose contents are not text a reader sees.
_SKIPPED = frozenset({
    "fonttbl", "colortbl", "stylesheet", "info", "pict", "objdata", "objclass", "objname",
    "fldinst", "themedata", "colorschememapping", "datastore", "latentstyles", "listtable",
    "listoverridetable", "revtbl", "rsidtbl", "generator", "xmlnstbl", "mmathPr", "filetbl",
    "pgdsctbl", "bkmkstart", "bkmkend", "sp", "shprslt", "nonshppict", "fldtype", "datafield",
    "xe", "tc", "template", "userprops", "docvar", "listpicture", "pnseclvl", "passwordhash",
    "wgrffmtfilter", "ftnsep", "ftnsepc", "aftnsep", "aftnsepc", "defchp", "defpap", "tcn",
})
# Destinations marked `\*` whose text is still the document's: a text box's contents (its
# `\shprslt` copy for old readers is skipped instead), a comment and a footnote (LibreOffice
# stars it); the last two come after the body, as in the Word reader.
_STARRED_KEPT = frozenset({"shpinst", "shptxt", "annotation", "footnote"})
_CHARACTERS = {
    b"par": "\n", b"sect": "\n", b"page": "\n", b"line": "\n", b"row": "\n", b"nestrow": "\n",
    b"tab": "\t", b"cell": "\t", b"nestcell": "\t", b"emdash": "\u2014", b"endash": "\u2013",
    b"bullet": "\u2022", b"lquote": "\u2018", b"rquote": "\u2019", b"ldblquote": "\u201c",
    b"rdblquote": "\u201d", b"emspace": "\u2003", b"enspace": "\u2002", b"qmspace": "\u2005",
    b"zwj": "\u200d", b"zwnj": "\u200c", b"ltrmark": "", b"rtlmark": "",
}
_SYMBOLS = {b"~": "\u00a0", b"_": "\u2011", b"-": "", b"\\": "\\", b"{": "{", b"}": "}",
            b"\n": "\n", b"\r": "\n", b"\t": "\t"}
# \fcharset number -> Python codec (Windows code pages, as Word writes them).
_CHARSETS = {
    0: "cp1252", 77: "mac_roman", 128: "cp932", 129: "cp949", 130: "johab", 134: "gbk",
    136: "big5", 161: "cp1253", 162: "cp1254", 163: "cp1258", 177: "cp1255", 178: "cp1256",
    186: "cp1257", 204: "cp1251", 222: "cp874", 238: "cp1250", 254: "cp437", 255: "cp850",
}
_DOCUMENT_CHARSETS = {b"mac": "mac_roman", b"pc": "cp437", b"pca": "cp850", b"ansi": "cp1252"}
# A run of control words that change nothing the reader keeps (\b, \fs22, \rtlch, ...: most
# of a real file's tokens), in one match; it stops before any word `_Reader` acts on, and
# takes names and parameters exactly as _TOKENS splits them.
_ACTED_ON = sorted(
    {"bin", "u", "f", "uc", "ansicpg", "footnote", *_SKIPPED,
     *(word.decode() for word in (*_CHARACTERS, *_DOCUMENT_CHARSETS))},
    key=len, reverse=True,
)
_FORMATTING_RUN = re.compile(
    rb"(?:\\(?!(?:" + "|".join(_ACTED_ON).encode() + rb")(?![a-zA-Z]))"
    rb"[a-zA-Z]{1,32}(?![a-zA-Z])(?:-?\d{1,10})? ?)++"  # possessive: twice as fast, same match
)
_MAX_DEPTH = 10_000  # deeper nesting is an attack, not a document; deeper groups are skipped


@dataclass(slots=True)
class _Group:
    skip: bool = False  # inside a destination whose text is not shown
    uc: int = 1  # how many fallback characters follow a \uN
    codec: str | None = None  # the current font's code page, when it sets one
    fonttbl: bool = False
    note: bool = False  # inside a footnote or comment: its text goes after the body


@register("rtf")
def extract_rtf(data: bytes, detected: DetectedType, limits: Limits) -> ExtractedText:
    text = rtf_text(data, limits.max_text_chars + 1)  # one more: the cut is then seen
    if text.strip():
        return ExtractedText(text=text)
    try:  # ours found nothing: a file it does not understand, so the second reader tries
        return ExtractedText(text=run_kreuzberg(data, "rtf", _MIME, _LABEL, limits).content)
    except DocumentError:
        return ExtractedText(text=text)


def rtf_text(data: bytes, max_chars: int = 10**9) -> str:
    """The text of the RTF document `data`; stops reading once it holds `max_chars`."""
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 BOM some tools put first
    if not data.lstrip()[:5] == b"{\\rtf":
        raise CorruptDocument(
            "The RTF file does not start like an RTF document; it may be damaged or another "
            "format with an .rtf name."
        )
    return _Reader(data, max_chars).run()


class _Reader:
    def __init__(self, data: bytes, max_chars: int) -> None:
        self.data = data
        self.max_chars = max_chars
        self.body: list[str] = []
        self.notes: list[str] = []
        self.out = self.body  # where text goes now
        self.size = 0
        self.pending = bytearray()  # bytes awaiting decoding in `pending_codec`
        self.pending_codec = "cp1252"
        self.document_codec = "cp1252"
        self.fonts: dict[int, str] = {}
        self.font = -1  # the font being defined in the font table
        self.default_font = -1

    def run(self) -> str:
        group = _Group()
        stack: list[_Group] = []
        overflow = 0  # groups opened beyond _MAX_DEPTH, skipped
        skip_chars = 0  # fallback characters of a \uN still to drop
        star = False  # the previous token was \*
        data, pos, end = self.data, 0, len(self.data)
        while pos < end and self.size < self.max_chars:
            if not (group.fonttbl or overflow or star or skip_chars):
                if group.skip:
                    run = _SKIPPED_RUN.match(data, pos)
                    if run is not None:  # nothing in it counts: on to what does
                        pos = run.end()
                        continue
                elif data[pos] == 0x5C:  # a backslash
                    run = _FORMATTING_RUN.match(data, pos)
                    if run is not None:
                        pos = run.end()
                        continue
            match = _TOKENS.match(data, pos)
            if match is None:  # cannot happen: the last alternative takes any byte
                break
            pos = match.end()
            kind = match.lastindex
            if kind == 2:  # a control word with its parameter
                kind = 1
            if kind == 5:  # a group opens or closes
                skip_chars = 0
                star = False
                if match.group(5) == b"{":
                    if overflow or len(stack) >= _MAX_DEPTH:
                        overflow += 1
                        continue
                    stack.append(group)
                    group = _Group(group.skip or group.fonttbl, group.uc, group.codec)
                    group.fonttbl, group.note = stack[-1].fonttbl, stack[-1].note
                elif overflow:
                    overflow -= 1
                elif stack:
                    group = stack.pop()
                    self._route(group)
                continue
            if overflow:
                continue
            if kind == 1:
                word, param = match.group(1), match.group(2)
                if word == b"bin":  # raw bytes follow: jump over them, whatever they hold
                    pos += max(int(param or 0), 0)
                    continue
                if word == b"u" and param is not None:
                    if not group.skip:
                        value = int(param)
                        value += 65536 if value < 0 else 0  # Word writes these as signed
                        self._emit(chr(value) if 0 <= value < 0x110000 else "\ufffd")
                    skip_chars = group.uc
                    star = False
                    continue
                if skip_chars:  # a control word stands for one fallback character
                    skip_chars -= 1
                    continue
                starred, star = star, False
                self._word(word, param, group, starred)
            elif kind == 3:
                if skip_chars:
                    skip_chars -= 1
                elif not group.skip:
                    self._byte(int(match.group(3), 16), group)
            elif kind == 4:
                symbol = match.group(4)
                if symbol == b"*":
                    star = True
                    continue
                if skip_chars:
                    skip_chars -= 1
                    continue
                if not group.skip and symbol in _SYMBOLS:
                    self._emit(_SYMBOLS[symbol])
            elif kind == 6:
                chunk = match.group(6)
                if skip_chars:
                    dropped = min(skip_chars, len(chunk))
                    skip_chars -= dropped
                    chunk = chunk[dropped:]
                if chunk and not group.skip:
                    self._bytes(chunk, group)
        self._flush()
        notes = [line for line in "".join(self.notes).split("\n") if line.strip()]
        text = "\n".join(["".join(self.body).rstrip("\n"), *notes])
        # \uN pairs for characters beyond the BMP arrive as surrogates: join them.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")

    def _word(self, word: bytes, param: bytes | None, group: _Group, starred: bool) -> None:
        name = word.decode("ascii")
        if starred:
            if name not in _STARRED_KEPT:
                group.skip = True
            elif name in ("annotation", "footnote"):
                group.note = True
                self._route(group)
                self._emit("\n")  # a comment or footnote is a paragraph of its own
            return
        if name == "footnote":  # unstarred, as Word writes it
            group.note = True
            self._route(group)
            self._emit("\n")
            return
        if name in _SKIPPED:
            group.skip = True
            if name == "fonttbl":
                group.fonttbl = True
            return
        if group.fonttbl:  # inside the font table only font numbers and charsets matter
            if name == "f" and param is not None:
                self.font = int(param)
            elif name == "fcharset" and param is not None and self.font >= 0:
                codec = _CHARSETS.get(int(param))
                if codec:
                    self.fonts[self.font] = codec
            return
        if name == "f" and param is not None:
            group.codec = self.fonts.get(int(param))
        elif name == "uc" and param is not None:
            group.uc = max(int(param), 0)
        elif name == "ansicpg" and param is not None:
            self.document_codec = _codec(int(param)) or self.document_codec
        elif word in _DOCUMENT_CHARSETS:
            self.document_codec = _DOCUMENT_CHARSETS[word]
        elif not group.skip and word in _CHARACTERS:
            if word in (b"row", b"nestrow"):
                self._flush()
                if self.out and self.out[-1] == "\t":
                    self.out.pop()  # the last cell's mark: no tab after the last cell
            self._emit(_CHARACTERS[word])

    def _byte(self, value: int, group: _Group) -> None:
        self._bytes(bytes((value,)), group)

    def _bytes(self, chunk: bytes, group: _Group) -> None:
        codec = group.codec or self.document_codec
        if codec != self.pending_codec:
            self._flush()
            self.pending_codec = codec
        self.pending += chunk

    def _route(self, group: _Group) -> None:
        target = self.notes if group.note else self.body
        if target is not self.out:
            self._flush()
            self.out = target

    def _emit(self, text: str) -> None:
        self._flush()
        self.out.append(text)
        self.size += len(text)

    def _flush(self) -> None:
        if self.pending:
            text = bytes(self.pending).decode(self.pending_codec, "replace")
            self.pending.clear()
            self.out.append(text)
            self.size += len(text)


def _codec(code_page: int) -> str | None:
    name = "mac_roman" if code_page == 10000 else f"cp{code_page}"
    try:
        "".encode(name)
    except LookupError:
        return None
    return name
