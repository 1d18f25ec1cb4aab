"""Pictures inside Office files, OCR'd when the file's own text is thin.

A scanned page pasted into Word, a slide that is one photo of a whiteboard, a sheet holding a
picture of a receipt: the file's text says little or nothing, its pictures say the rest. When
a DOCX, PPTX, XLSX or OpenDocument file has fewer than `OcrOptions.min_text_chars` non-blank
characters of text per picture worth reading (the rule a PDF page's text layer meets to skip
OCR, with each picture as a page), its pictures are OCR'd in document order and their text is
appended. A picture worth reading is one Pillow opens that is no decoration (see
inline_images); the same picture shown twice is read once. Each counts as a page: at most
`OcrOptions.max_pictures` and `Limits.max_pages` are read, each within the page OCR time
limit, and with OCR turned off here the first one raises OcrDeferred (the worker then sends
the document to the OCR queue). A picture that cannot be read never fails its document.
"""

from __future__ import annotations

import logging
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace

from lxml import etree

from ..errors import DocumentError
from ..types import ExtractedText, Limits, PageText
from .image import ocr_picture
from .inline_images import image_format, is_decoration
from .safe_xml import iter_xml, parse_xml
from .safe_zip import UnpackBudget, open_zip, read_member

log = logging.getLogger(__name__)

PICTURE_FORMATS = frozenset({"docx", "pptx", "xlsx", "odt", "ods", "odp"})
_LABELS = {"docx": "Word document", "pptx": "PowerPoint deck", "xlsx": "Excel workbook",
           "odt": "OpenDocument text", "ods": "OpenDocument spreadsheet",
           "odp": "OpenDocument presentation"}
_R = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
      "http://purl.oclc.org/ooxml/officeDocument/relationships")
_A = ("http://schemas.openxmlformats.org/drawingml/2006/main",
      "http://purl.oclc.org/ooxml/drawingml/main")
_P = ("http://schemas.openxmlformats.org/presentationml/2006/main",
      "http://purl.oclc.org/ooxml/presentationml/main")
_VML_IMAGE = "{urn:schemas-microsoft-com:vml}imagedata"
_BLIPS = [f"{{{ns}}}blip" for ns in _A]
_SLIDE_IDS = [f"{{{ns}}}sldId" for ns in _P]
_ODF_IMAGE = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}image"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_NUMBER = re.compile(r"(\d+)")
_REL_ATTRIBUTES = frozenset(f"{{{ns}}}{name}" for ns in _R for name in ("embed", "id"))
_REL_ID = frozenset(f"{{{ns}}}id" for ns in _R)
_MEDIA = ("word/media/", "ppt/media/", "xl/media/", "Pictures/")
_Reader = Callable[[str], bytes]  # a package path to its bytes


def with_picture_text(raw: ExtractedText, data: bytes, fmt: str,
                      limits: Limits) -> ExtractedText:
    """`raw` with the text OCR reads in the file's pictures appended, when its text is thin."""
    if fmt not in PICTURE_FORMATS:
        return raw
    label = _LABELS[fmt]
    characters = _characters(raw.text)
    try:
        # The media files bound the pictures: most documents with text stop here, unparsed.
        if characters >= limits.ocr.min_text_chars * _media_count(data, limits, label):
            return raw
        pictures = list(_pictures_to_read(data, fmt, limits, label))
    except DocumentError as exc:  # the package was readable enough for its text
        return replace(raw, warnings=[*raw.warnings, f"Its pictures were not read: {exc.message}"])
    except (etree.LxmlError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        log.debug("pictures of a %s not listed: %s", label, exc)
        return replace(raw, warnings=[*raw.warnings, "Its pictures could not be listed; the "
                                      "package may be damaged, so they were not read."])
    if not pictures or characters >= limits.ocr.min_text_chars * len(pictures):
        return raw
    cap = min(limits.ocr.max_pictures, limits.max_pages)
    notes = list(raw.warnings)
    if len(pictures) > cap:
        notes.append(f"Only the first {cap:,} of its {len(pictures):,} pictures were read by OCR.")
    pages = [ocr_picture(picture, image_format(picture) or "", number, limits)
             for number, picture in enumerate(pictures[:cap], start=1)]
    read = [page.text.strip() for page in pages if page.text.strip()]
    notes += [page.warning for page in pages if page.warning]
    text = "\n\n".join(part for part in [raw.text.strip(), *read] if part)
    return replace(raw, text=text, warnings=notes, ocr_confidence=_confidence(pages))


def _characters(text: str) -> int:
    return len("".join(text.split()))  # non-blank characters, counted at C speed


def _media_count(data: bytes, limits: Limits, label: str) -> int:
    names = open_zip(data, limits, label).namelist()
    return sum(1 for name in names if name.startswith(_MEDIA) and not name.endswith("/"))


def _confidence(pages: list[PageText]) -> float | None:
    weighted = [(page.confidence, len(page.text)) for page in pages if page.confidence]
    total = sum(chars for _, chars in weighted)
    return round(sum((c or 0.0) * n for c, n in weighted) / total, 4) if total else None


def _pictures_to_read(data: bytes, fmt: str, limits: Limits, label: str) -> Iterator[bytes]:
    """The file's pictures worth reading, in document order, each once."""
    archive = open_zip(data, limits, label)
    budget = UnpackBudget.of(limits)
    names = set(archive.namelist())
    seen: set[str] = set()
    paths = _odf_pictures(archive, names, limits, budget, label) if fmt.startswith("od") \
        else _ooxml_pictures(archive, names, fmt, limits, budget, label)
    for path in paths:
        if path in seen or path not in names:
            continue
        seen.add(path)
        try:
            picture = read_member(archive, archive.getinfo(path), limits, budget, label)
        except DocumentError as exc:
            log.debug("picture %s not read: %s", path, exc.message)
            continue
        if image_format(picture) is not None and not is_decoration(picture):
            yield picture


def _ooxml_pictures(archive: zipfile.ZipFile, names: set[str], fmt: str, limits: Limits,
                    budget: UnpackBudget, label: str) -> Iterator[str]:
    def read(path: str) -> bytes:
        return read_member(archive, archive.getinfo(path), limits, budget, label)

    for part in _ooxml_parts(names, fmt, read):
        targets = _relationships(part, names, read)
        for _, element in iter_xml(read(part), [*_BLIPS, _VML_IMAGE], events=("start",)):
            for key, value in element.attrib.items():
                if key in _REL_ATTRIBUTES and value in targets:
                    yield targets[value]


def _ooxml_parts(names: set[str], fmt: str, read: _Reader) -> list[str]:
    """The parts that place pictures, in reading order."""
    if fmt == "docx":
        return ["word/document.xml"] if "word/document.xml" in names else []
    if fmt == "pptx":
        ordered = _slide_order(names, read)
        if ordered:
            return ordered
        return _numbered(names, "ppt/slides/slide")
    return _numbered(names, "xl/drawings/drawing")


def _slide_order(names: set[str], read: _Reader) -> list[str]:
    presentation = "ppt/presentation.xml"
    if presentation not in names:
        return []
    targets = _relationships(presentation, names, read)
    slides = []
    for element in parse_xml(read(presentation)).iter(*_SLIDE_IDS):
        for key, value in element.attrib.items():
            if key in _REL_ID and value in targets:
                slides.append(targets[value])
    return slides


def _numbered(names: set[str], prefix: str) -> list[str]:
    found = [n for n in names if n.startswith(prefix) and n.endswith(".xml") and "/_rels/" not in n]
    return sorted(found, key=lambda n: [int(p) if p.isdigit() else p for p in _NUMBER.split(n)])


def _relationships(part: str, names: set[str], read: _Reader) -> dict[str, str]:
    """{relationship id: package path} of the part's internal relationships."""
    folder, base = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", f"{base}.rels")
    if rels not in names:
        return {}
    targets = {}
    for element in parse_xml(read(rels)).iter(_RELATIONSHIP):
        target = element.get("Target") or ""
        if element.get("TargetMode") == "External" or not element.get("Id"):
            continue
        path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        targets[element.get("Id") or ""] = posixpath.normpath(path)
    return targets


def _odf_pictures(archive: zipfile.ZipFile, names: set[str], limits: Limits,
                  budget: UnpackBudget, label: str) -> Iterator[str]:
    if "content.xml" not in names:
        return
    content = read_member(archive, archive.getinfo("content.xml"), limits, budget, label)
    for _, element in iter_xml(content, [_ODF_IMAGE], events=("start",)):
        href = element.get(_XLINK_HREF) or ""
        if href and "://" not in href:
            yield posixpath.normpath(href.removeprefix("./"))

