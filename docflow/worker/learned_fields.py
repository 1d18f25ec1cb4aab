"""The field hints each worker process uses: what people's field corrections taught (see
store/field_labels.py), reloaded when a label is added or changed."""

from __future__ import annotations

import time

from docflow.pipeline.fields.learned import LearnedFields
from docflow.store import Store
from docflow.store.field_labels import labels_stamp, learned_hints


class LearnedFieldsCache:
    def __init__(self, refresh_seconds: float = 15.0) -> None:
        self.refresh_seconds = refresh_seconds
        self._learned = LearnedFields()
        self._stamp: tuple[object, ...] | None = None
        self._checked: float | None = None

    def get(self, store: Store) -> LearnedFields:
        now = time.monotonic()
        if self._checked is not None and now - self._checked < self.refresh_seconds:
            return self._learned
        self._checked = now
        with store.db.read() as session:
            stamp = labels_stamp(session)
            if stamp != self._stamp:
                self._learned = LearnedFields(learned_hints(session))
                self._stamp = stamp
        return self._learned
