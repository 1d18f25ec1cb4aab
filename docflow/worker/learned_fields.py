"""The field hints each worker process uses, one set per tenant: what the corrections of that
tenant's people taught (see store/field_labels.py), reloaded when one of its labels is added or
changed."""

from __future__ import annotations

from docflow.pipeline.fields.learned import LearnedFields
from docflow.store import Store
from docflow.store.field_labels import labels_stamp, learned_hints
from docflow.store.scope import DEFAULT_TENANT
from docflow.worker.tenant_cache import TenantCache


class LearnedFieldsCache(TenantCache[LearnedFields]):
    def get(self, store: Store, tenant: str = DEFAULT_TENANT) -> LearnedFields:
        """What `tenant`'s corrections taught."""
        def stamp() -> tuple[object, ...]:
            with store.db.read() as session:
                return labels_stamp(session, tenant)

        def build() -> LearnedFields:
            with store.db.read() as session:
                return LearnedFields(learned_hints(session, tenant))

        return self.lookup(tenant, stamp, build)
