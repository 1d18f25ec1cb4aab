"""What every request handler needs, opened once per API process."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from docflow.config import Settings
from docflow.search import SearchIndex, open_index
from docflow.store import Store
from docflow.worker.dispatch import Dispatcher


@dataclass
class ApiState:
    settings: Settings
    store: Store
    dispatcher: Dispatcher
    _index: SearchIndex | None = None

    def search_index(self) -> SearchIndex:
        # Opened on first use: the indexer may create the index after the API starts.
        if self._index is None:
            self._index = open_index(self.settings.search, self.settings.index_dir,
                                     writer=False, database_url=self.settings.sqlalchemy_url)
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
        self.dispatcher.close()
        self.store.db.dispose()


def get_state(request: Request) -> ApiState:
    return request.app.state.docflow  # type: ignore[no-any-return]
