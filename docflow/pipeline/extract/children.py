"""Attachments and archive members collected as ChildDocuments, with safe names and bounds."""

from __future__ import annotations

import posixpath
import unicodedata

from ..errors import DocumentTooLarge
from ..types import ChildDocument, Limits

_MAX_NAME = 200  # characters; file systems and people both stop reading long before 255 bytes


class ChildCollector:
    """Children in the order found, refused past Limits' member count and unpacked bytes."""

    def __init__(self, limits: Limits, label: str) -> None:
        self.limits = limits
        self.label = label
        self.found: list[ChildDocument] = []
        self._paths: set[str] = set()
        self._bytes = 0

    def add(self, name: str, data: bytes, path: str) -> None:
        if len(self.found) >= self.limits.max_archive_members:
            raise DocumentTooLarge(
                f"The {self.label} holds more than {self.limits.max_archive_members:,} files; "
                "split it into smaller ones."
            )
        self._bytes += len(data)
        if self._bytes > self.limits.max_unpacked_bytes:
            raise DocumentTooLarge(
                f"The files in the {self.label} add up to more than "
                f"{self.limits.max_unpacked_bytes:,} bytes; split it or raise the limit."
            )
        filename = safe_filename(name)
        path = self._unique(safe_path(path) or filename)
        self.found.append(ChildDocument(filename=filename, data=data, path=path))

    def _unique(self, path: str) -> str:
        candidate, number = path, 1
        while candidate in self._paths:
            number += 1
            stem, extension = posixpath.splitext(path)
            candidate = f"{stem} ({number}){extension}"
        self._paths.add(candidate)
        return candidate


def safe_filename(name: str) -> str:
    """The last component of `name`, without control or invisible formatting characters."""
    base = _clean(name.replace("\\", "/").rsplit("/", 1)[-1])
    if base in ("", ".", ".."):
        return "unnamed"
    if len(base) > _MAX_NAME:
        stem, extension = posixpath.splitext(base)
        extension = extension if len(extension) <= 16 else ""
        base = stem[: _MAX_NAME - len(extension)] + extension
    return base


def safe_path(path: str) -> str:
    """A relative "/"-separated path: no "..", ".", empty, absolute or drive components."""
    parts = []
    for part in path.replace("\\", "/").split("/"):
        part = _clean(part)
        if part in ("", ".", "..") or part.endswith(":"):  # "C:" from a Windows absolute path
            continue
        parts.append(part[:_MAX_NAME])
    return "/".join(parts)


def _clean(text: str) -> str:
    # Cc: control characters; Cf: invisible formatting such as the right-to-left override that
    # makes "invoice‮fdp.exe" look like a PDF.
    kept = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf"))
    return kept.strip(" ")
