"""Which reader handles which format: each extractor module registers itself here."""

from __future__ import annotations

from collections.abc import Callable

from ..types import DetectedType, ExtractedText, Limits

Extractor = Callable[[bytes, DetectedType, Limits], ExtractedText]

_EXTRACTORS: dict[str, Extractor] = {}


def register(*formats: str) -> Callable[[Extractor], Extractor]:
    """Decorator: make `func` the reader for `formats` (a later registration replaces it)."""

    def decorator(func: Extractor) -> Extractor:
        for fmt in formats:
            _EXTRACTORS[fmt] = func
        return func

    return decorator


def extractor_for(fmt: str) -> Extractor | None:
    return _EXTRACTORS.get(fmt)


def supported_formats() -> frozenset[str]:
    return frozenset(_EXTRACTORS)
