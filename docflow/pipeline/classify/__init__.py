"""Decide what kind of document a text is. Today: keyword rules; later zero-shot and trained."""

from .doc_types import DEFAULT_DOC_TYPES, OTHER, DocType
from .rules import RulesClassifier, classify

__all__ = ["DEFAULT_DOC_TYPES", "OTHER", "DocType", "RulesClassifier", "classify"]
