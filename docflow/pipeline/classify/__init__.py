"""Decide what kind of document a text is.

`DocumentClassifier` asks its deciders in a documented order (see classifier.py): user rules,
a trained model, an optional LLM, zero-shot embeddings, keywords. `classify(text)` is the
keywords-only default that needs no model at all.
"""

from .classifier import DocumentClassifier, Thresholds
from .doc_types import DEFAULT_DOC_TYPES, OTHER, DocType
from .embeddings import EmbeddingModelMissing, SentenceEncoder, ensure_onnx_model
from .llm import LlmApi, LlmClassifier, LlmSettings
from .matching import InvalidRule, MatchKind, MatchRule
from .rules import RulesClassifier, classify
from .trained import ClassifierError, ModelUnreadable, NotEnoughLabels, TrainedClassifier
from .zero_shot import ZeroShotClassifier

__all__ = [
    "DEFAULT_DOC_TYPES",
    "OTHER",
    "ClassifierError",
    "DocType",
    "DocumentClassifier",
    "EmbeddingModelMissing",
    "InvalidRule",
    "LlmApi",
    "LlmClassifier",
    "LlmSettings",
    "MatchKind",
    "MatchRule",
    "ModelUnreadable",
    "NotEnoughLabels",
    "RulesClassifier",
    "SentenceEncoder",
    "Thresholds",
    "TrainedClassifier",
    "ZeroShotClassifier",
    "classify",
    "ensure_onnx_model",
]
