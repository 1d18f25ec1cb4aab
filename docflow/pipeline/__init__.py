"""The document pipeline: bytes and a file name in, a ProcessedDocument out.

    detect type -> extract text -> classify -> extract fields

Pure functions only: nothing here touches a database, a queue, the network or the environment,
so a worker, a test or a notebook can call `process_document` the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

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
from .extract import extract, finish_extracted
from .extract.pdf import join_pdf_pages
from .fields import extract_fields
from .fields.learned import LearnedFields
from .fields.llm import AskJson, read_fields
from .types import (
    Classification,
    DetectedType,
    ExtractedText,
    Field,
    Limits,
    PageText,
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
    "LearnedFields",
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
    "process_pdf_pages",
]


def process_document(
    data: bytes,
    filename: str,
    limits: Limits = Limits(),
    classifier: DocumentClassifier | None = None,
    learned: LearnedFields | None = None,
    ask_fields: AskJson | None = None,
) -> ProcessedDocument:
    """Run every stage on one document; raises a DocumentError subclass if it cannot be read.

    Without a `classifier`, types come from keywords alone (no model); a worker passes one built
    from the user's types, trained model and embedding cache (see classify.DocumentClassifier).
    `learned` holds what people's field corrections taught (see fields/learned.py).
    With `ask_fields` (a language model), key fields the extractors missed are asked of it and
    kept where the text shows them (see fields.llm).
    """
    detected = detect(data, filename, limits)
    return _understand(detected, extract(data, detected, limits), classifier, learned,
                       ask_fields)


def process_pdf_pages(
    data: bytes,
    filename: str,
    pages: Iterable[PageText],
    limits: Limits = Limits(),
    classifier: DocumentClassifier | None = None,
    learned: LearnedFields | None = None,
    ask_fields: AskJson | None = None,
) -> ProcessedDocument:
    """`process_document` for a PDF whose pages were read in parts (`ocr_pdf_pages` per page
    range, in any order): the same result as reading it whole."""
    detected = detect(data, filename, limits)
    extracted = finish_extracted(join_pdf_pages(pages), detected, limits)
    return _understand(detected, extracted, classifier, learned, ask_fields)


def _understand(
    detected: DetectedType,
    extracted: ExtractedText,
    classifier: DocumentClassifier | None,
    learned: LearnedFields | None,
    ask_fields: AskJson | None,
) -> ProcessedDocument:
    text = extracted.text
    embedding = classifier.embed(text) if classifier is not None else None
    passages = (classifier.embed_passages(text, embedding)
                if classifier is not None and embedding is not None else None)
    classification = (
        classifier.classify(text, embedding) if classifier is not None else classify(text)
    )
    fields = extract_fields(text, classification.doc_type)
    if learned:
        fields = learned.apply(text, classification.doc_type, fields)
    if ask_fields is not None:
        fields += read_fields(text, classification.doc_type, fields, ask_fields)
    return ProcessedDocument(
        detected=detected,
        extracted=extracted,
        classification=classification,
        fields=fields,
        embedding=embedding.tolist() if embedding is not None else None,
        embedding_model=classifier.encoder.version if embedding is not None else None,
        passages=passages,
    )
