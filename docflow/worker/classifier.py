"""The classifier each worker process uses: built from the document types in the database
(users' rules and keywords), the current trained model, the embedding model (DOCFLOW_ZERO_SHOT)
and the language model (DOCFLOW_LLM_URL), rebuilt when the types or the trained model change."""

from __future__ import annotations

import logging
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from docflow.config import Settings
from docflow.pipeline.classify.classifier import DocumentClassifier
from docflow.pipeline.classify.doc_types import OTHER, DocType
from docflow.pipeline.classify.embeddings import EmbeddingModelMissing, SentenceEncoder
from docflow.pipeline.classify.llm import LlmClassifier
from docflow.pipeline.classify.matching import InvalidRule
from docflow.store import Store
from docflow.store.document_types import list_types, to_pipeline
from docflow.store.models import DocumentType
from docflow.worker.training import current_version, embedding_model_dir, load_current

log = logging.getLogger(__name__)


class ClassifierCache:
    def __init__(self, refresh_seconds: float = 15.0) -> None:
        self.refresh_seconds = refresh_seconds
        self._classifier: DocumentClassifier | None = None
        self._stamp: tuple[object, ...] | None = None
        self._checked = 0.0
        self._encoder: SentenceEncoder | None = None
        self._encoder_failed = False

    def get(self, store: Store, settings: Settings) -> DocumentClassifier:
        now = time.monotonic()
        if self._classifier is not None and now - self._checked < self.refresh_seconds:
            return self._classifier
        self._checked = now
        with store.db.read() as session:
            stamp = (*session.execute(select(func.count(), func.max(
                DocumentType.updated_at))).one(), current_version(settings))
            if self._classifier is None or stamp != self._stamp:
                types = _types(session, settings)
                if self._classifier is not None and self._classifier.llm is not None:
                    self._classifier.llm.close()
                llm = settings.llm
                self._classifier = DocumentClassifier(
                    types, trained=load_current(settings),
                    encoder=self._sentence_encoder(settings), zero_shot=settings.zero_shot,
                    llm=LlmClassifier(types, llm, on_failure=_llm_failed) if llm else None,
                    rules_budget_seconds=settings.rules_budget_seconds)
                self._stamp = stamp
        return self._classifier

    def _sentence_encoder(self, settings: Settings) -> SentenceEncoder | None:
        """The embedding model, converted to ONNX once into the data dir (if documents are
        embedded: semantic search or zero-shot)."""
        if not settings.makes_embeddings or self._encoder_failed:
            return None
        if self._encoder is None:
            try:
                self._encoder = SentenceEncoder(embedding_model_dir(settings))
            except EmbeddingModelMissing as exc:
                log.error("documents get no embeddings (semantic search, zero-shot types): %s",
                          exc)
                self._encoder_failed = True
        return self._encoder


def _llm_failed(why: str) -> None:
    log.warning("the language model gave no type (%s); the next decider decides", why)


def _types(session: Session, settings: Settings) -> list[DocType]:
    types = []
    for row in list_types(session):
        if row.name == OTHER:  # the pipeline's fallback, not a type a decider should name
            continue
        try:
            types.append(to_pipeline(row, settings.rule_limits))
        except InvalidRule as exc:  # saved before a stricter check: skip it, loudly
            log.warning("document type %s has a rule that cannot run (%s); skipped", row.name,
                        exc)
    return types
