"""The document pipeline: bytes and a file name in, a ProcessedDocument out.

    detect type -> extract text -> classify -> extract fields

Pure functions only: nothing here touches a database, a queue, the network or the environment,
so a worker, a test or a notebook can call `process_document` the same way.
"""

from __future__ import annotations

from .classify import DocumentClassifier, classify
from .detect import detect
from .errors import (
    CorruptDocument,
    DocumentError,
    DocumentTooLarge,
    EmptyDocument,
    EncryptedDocument,
    ProcessingTimeout,
    TooManyPages,
    UnsupportedFormat,
)
from .extract import extract
from .fields import extract_fields
from .fields.llm import AskJson, read_fields
from .types import (
    Classification,
    DetectedType,
    ExtractedText,
    Field,
    Limits,
    ProcessedDocument,
)

__all__ = [
    "Classification",
    "CorruptDocument",
    "DetectedType",
    "DocumentClassifier",
    "DocumentError",
    "DocumentTooLarge",
    "EmptyDocument",
    "EncryptedDocument",
    "ExtractedText",
    "Field",
    "Limits",
    "ProcessedDocument",
    "ProcessingTimeout",
    "TooManyPages",
    "UnsupportedFormat",
    "classify",
    "detect",
    "extract",
    "extract_fields",
    "process_document",
]


def process_document(
    data: bytes,
    filename: str,
    limits: Limits = Limits(),
    classifier: DocumentClassifier | None = None,
    ask_fields: AskJson | None = None,
) -> ProcessedDocument:
    """Run every stage on one document; raises a DocumentError subclass if it cannot be read.

    Without a `classifier`, types come from keywords alone (no model); a worker passes one built
    from the user's types, trained model and embedding cache (see classify.DocumentClassifier).
    With `ask_fields` (a language model), key fields the extractors missed are asked of it and
    kept where the text shows them (see fields.llm).
    """
    detected = detect(data, filename, limits)
    extracted = extract(data, detected, limits)
    text = extracted.text
    embedding = classifier.embed(text) if classifier is not None else None
    classification = (
        classifier.classify(text, embedding) if classifier is not None else classify(text)
    )
    fields = extract_fields(text, classification.doc_type)
    if ask_fields is not None:
        fields += read_fields(text, classification.doc_type, fields, ask_fields)
    return ProcessedDocument(
        detected=detected,
        extracted=extracted,
        classification=classification,
        fields=fields,
        embedding=embedding.tolist() if embedding is not None else None,
        embedding_model=classifier.encoder.version if embedding is not None else None,
    )
