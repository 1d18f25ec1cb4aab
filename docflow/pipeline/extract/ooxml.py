"""An OOXML package (DOCX, PPTX, XLSX) opened under Limits: parts by name and by relationship.

Every part is read through safe_zip, so sizes and the unpack budget hold across all the parts a
reader follows; links to outside the package (hyperlinks, linked files) are never followed.
"""

from __future__ import annotations

import posixpath
import urllib.parse
import zipfile
from dataclasses import dataclass, field

from lxml import etree

from ..errors import CorruptDocument, EncryptedDocument, UnsupportedFormat
from ..types import Limits
from .safe_xml import parse_xml
from .safe_zip import UnpackBudget, open_zip, read_member

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


@dataclass
class Package:
    archive: zipfile.ZipFile
    limits: Limits
    budget: UnpackBudget
    label: str  # how a person names the format: "Word", "PowerPoint", "Excel"
    visited: set[str] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)  # parts that could not be read, named
    # Built once each: a lookup per link must not scan every member or re-read a .rels part,
    # or a package linking the same parts over and over costs links x members.
    _lowered: dict[str, zipfile.ZipInfo] | None = field(default=None, repr=False)
    _links: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict, repr=False)

    def first_visit(self, name: str) -> bool:
        """True the first time `name` is asked about: a chart or chunk linked many times is
        read once, so a part cannot be multiplied into the text by linking it over and over."""
        if name in self.visited:
            return False
        self.visited.add(name)
        return True

    @classmethod
    def open(
        cls,
        data: bytes,
        limits: Limits,
        label: str,
        extension: str,
        budget: UnpackBudget | None = None,
    ) -> Package:
        """`budget` is shared with the package this one is nested in, where it is."""
        if data.startswith(_OLE2_MAGIC):
            if "EncryptedPackage".encode("utf-16-le") in data:
                raise EncryptedDocument(
                    f"The {label} document is password-protected; remove the password and "
                    "upload it again."
                )
            raise UnsupportedFormat(
                f"This is an old-style {label} file inside a {extension} name; save it as "
                f"{extension} or PDF."
            )
        budget = budget if budget is not None else UnpackBudget.of(limits)
        return cls(open_zip(data, limits, label), limits, budget, label)

    def read(self, name: str, required: bool = True) -> bytes | None:
        """A part's bytes; a missing optional part (a header, the notes) is simply absent."""
        member = self._member(name)
        if member is None:
            if not required:
                return None
            raise CorruptDocument(
                f"The {self.label} document is incomplete: its part {name!r} is missing. "
                f"Try saving it again from {self.label}."
            )
        return read_member(self.archive, member, self.limits, self.budget, self.label)

    def xml(self, name: str, strict: bool = False) -> etree._Element | None:
        """A small part parsed whole; None where it is missing. A damaged part (its XML, or
        its compressed bytes) raises CorruptDocument where `strict`, else is skipped and named
        in `skipped`."""
        try:
            data = self.read(name, required=False)
        except CorruptDocument:
            if strict:
                raise
            self.skip(name)
            return None
        if data is None:
            return None
        try:
            return parse_xml(data)
        except etree.XMLSyntaxError as exc:
            if strict:
                raise CorruptDocument(
                    f"The {self.label} document's part {name!r} is damaged or was built to "
                    f"attack XML readers; try saving it again from {self.label}."
                ) from exc
            self.skip(name)
            return None

    def skip(self, name: str, what: str = "part") -> None:
        """Name a part that could not be read; the reader goes on without it."""
        self.skipped.append(f"The {what} {name!r} is damaged; its text was skipped.")

    def _member(self, name: str) -> zipfile.ZipInfo | None:
        # Package part names are case-insensitive and may be percent-encoded in links.
        for candidate in (name, urllib.parse.unquote(name)):
            if candidate in self.archive.NameToInfo:
                return self.archive.NameToInfo[candidate]
        if self._lowered is None:
            self._lowered = {}
            for member in self.archive.infolist():  # the first of equal names, as before
                self._lowered.setdefault(member.filename.lower(), member)
        return self._lowered.get(urllib.parse.unquote(name).lower())

    def main_document(self) -> str:
        for kind, target in self.related("").values():
            if kind == "officeDocument":
                return target
        raise CorruptDocument(
            f"The file is a zip package but holds no {self.label} document; check its type, or "
            f"save it again from {self.label}."
        )

    def related(self, part: str) -> dict[str, tuple[str, str]]:
        """{relationship id: (kind, part name)} for the parts `part` points to."""
        if part not in self._links:
            self._links[part] = self._read_links(part)
        return self._links[part]

    def _read_links(self, part: str) -> dict[str, tuple[str, str]]:
        folder, name = posixpath.split(part)
        rels_name = posixpath.join(folder, "_rels", name + ".rels")
        rels = self.read(rels_name, required=False)
        if rels is None:
            return {}
        try:
            root = parse_xml(rels)
        except etree.XMLSyntaxError as exc:
            raise CorruptDocument(
                f"The {self.label} document's internal links are damaged; try saving it again "
                f"from {self.label}."
            ) from exc
        found = {}
        for rel in root.iter(f"{{{_RELS_NS}}}Relationship"):
            if rel.get("TargetMode") == "External":
                continue  # a hyperlink or linked file: never fetched
            target = rel.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
            kind = rel.get("Type", "").rsplit("/", 1)[-1]
            found[rel.get("Id", "")] = (kind, posixpath.normpath(path))
        return found
