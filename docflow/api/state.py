"""What every request handler needs, opened once per API process."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from docflow.config import Settings
from docflow.pipeline.classify.embeddings import SentenceEncoder
from docflow.search import SearchIndex, open_index
from docflow.search.vectors import VectorIndex, open_vector_index
from docflow.store import Store
from docflow.worker.dispatch import Dispatcher
from docflow.worker.training import embedding_model_dir

if TYPE_CHECKING:
    from docflow.auth.oidc import OidcLogin


@dataclass
class ApiState:
    settings: Settings
    store: Store
    dispatcher: Dispatcher
    oidc: OidcLogin | None = None  # OpenID Connect login, when configured
    _index: SearchIndex | None = None
    _encoder: SentenceEncoder | None = None
    _vectors: VectorIndex | None = None
    _encoder_lock: threading.Lock = field(default_factory=threading.Lock)

    def search_index(self) -> SearchIndex:
        # Opened on first use: the indexer may create the index after the API starts.
        if self._index is None:
            self._index = open_index(self.settings.search, self.settings.index_dir,
                                     writer=False, database_url=self.settings.sqlalchemy_url,
                                     pool=self.settings.search_pool)
        return self._index

    def vector_index(self) -> VectorIndex | None:
        """The vector index, read-only (None when documents get no embeddings)."""
        if self._vectors is None:
            self._vectors = open_vector_index(self.settings, writer=False)
        return self._vectors

    def query_encoder(self) -> SentenceEncoder:
        """The workers' embedding model, loaded on the first semantic search (raises
        EmbeddingModelMissing when its weights are not installed)."""
        with self._encoder_lock:  # requests run on a thread pool: load it once
            if self._encoder is None:
                self._encoder = SentenceEncoder(embedding_model_dir(self.settings))
            return self._encoder

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
        if self._vectors is not None:
            self._vectors.close()
        self.dispatcher.close()
        self.store.db.dispose()


def get_state(request: Request) -> ApiState:
    return request.app.state.docflow  # type: ignore[no-any-return]
