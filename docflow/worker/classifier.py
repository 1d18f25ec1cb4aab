"""The classifiers each worker process uses, one per tenant: built from that tenant's document
types (its users' rules and keywords), its current trained model, the embedding model
(DOCFLOW_ZERO_SHOT, shared by all) and the language model (DOCFLOW_LLM_URL), rebuilt when the
tenant's types or trained model change."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from docflow.config import Settings
from docflow.pipeline.classify.classifier import DocumentClassifier
from docflow.pipeline.classify.doc_types import OTHER, DocType
from docflow.pipeline.classify.embeddings import EmbeddingModelMissing, SentenceEncoder
from docflow.pipeline.classify.llm import LlmClassifier
from docflow.pipeline.classify.matching import InvalidRule
from docflow.store import Store
from docflow.store.document_types import list_types, to_pipeline, types_stamp
from docflow.store.scope import DEFAULT_TENANT
from docflow.worker.tenant_cache import MAX_TENANTS, TenantCache
from docflow.worker.training import current_version, embedding_model_dir, load_current

log = logging.getLogger(__name__)


class ClassifierCache(TenantCache[DocumentClassifier]):
    def __init__(self, refresh_seconds: float = 15.0, max_tenants: int = MAX_TENANTS) -> None:
        super().__init__(refresh_seconds, max_tenants, on_drop=_close)
        self._encoder: SentenceEncoder | None = None
        self._encoder_failed = False

    def get(self, store: Store, settings: Settings,
            tenant: str = DEFAULT_TENANT) -> DocumentClassifier:
        """The classifier of `tenant`'s documents."""
        def stamp() -> tuple[object, ...]:
            version = current_version(store, settings, tenant)
            with store.db.read() as session:
                return (*types_stamp(session, tenant), version)

        def build() -> DocumentClassifier:
            with store.db.read() as session:
                types = _types(session, settings, tenant)
            llm = settings.llm
            return DocumentClassifier(
                types, trained=load_current(store, settings, tenant),
                encoder=self._sentence_encoder(settings), zero_shot=settings.zero_shot,
                llm=LlmClassifier(types, llm, on_failure=_llm_failed) if llm else None,
                rules_budget_seconds=settings.rules_budget_seconds)

        return self.lookup(tenant, stamp, build)

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


def _close(classifier: DocumentClassifier) -> None:
    if classifier.llm is not None:
        classifier.llm.close()


def _types(session: Session, settings: Settings, tenant: str) -> list[DocType]:
    types = []
    for row in list_types(session, tenant):
        if row.name == OTHER:  # the pipeline's fallback, not a type a decider should name
            continue
        try:
            types.append(to_pipeline(row, settings.rule_limits))
        except InvalidRule as exc:  # saved before a stricter check: skip it, loudly
            log.warning("document type %s has a rule that cannot run (%s); skipped", row.name,
                        exc)
    return types
