"""The FastAPI app factory: `uvicorn --factory docflow.api.app:create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

import docflow
from docflow.api.docs import install_docs
from docflow.api.errors import ERROR_RESPONSES, install_error_handlers
from docflow.api.limits import RequestLimits
from docflow.api.routers import (
    batch_list,
    batches,
    classifier,
    document_types,
    documents,
    events,
    failures,
    health,
    overview,
    rule_test,
    search,
    tasks,
    uploads,
    workers,
)
from docflow.api.state import ApiState
from docflow.api.web import router as web_router
from docflow.auth import routes as auth_routes
from docflow.auth.audit import AuditMiddleware
from docflow.auth.dependency import scoped
from docflow.auth.errors import AUTH_RESPONSES, install_auth_error_handler
from docflow.auth.startup import check_credentials_at_start
from docflow.config import Settings, get_settings
from docflow.logs import configure_logging
from docflow.observability import metrics
from docflow.observability.tasks import use_settings
from docflow.observability.tracing import instrument_app, trace_database
from docflow.store import open_store
from docflow.store.tenants import tenants_apart
from docflow.worker.dispatch import Dispatcher

DESCRIPTION = """
docflow stores each original once, extracts its text, decides what kind of document it is,
pulls out key fields and indexes it for search, on Celery workers.

Upload one file (`POST /api/upload`) or many (`POST /api/batch-upload`; an `Idempotency-Key`
header on each file part makes a retried request return the documents it made), follow them with
`/api/task-status/{task_id}` and `/api/batch-status/{batch_id}`, then search (`/api/search`)
and read the results (`/api/documents`). Errors are JSON: `{"code": ..., "message": ...}`:
400 `bad_request`, 404 `not_found`, 413 `too_large` (a file over `max_file_bytes`, or a JSON
body over 1 MiB), 422 `invalid_request` and the other refusals, 500 `internal_error` (logged
with its traceback), 503 `storage_unavailable` (storage read-only or not permitted), 507
`insufficient_storage` (the disk is full, or an upload would leave less than
`min_free_disk_bytes` free; nothing is stored). Search pages reach 10,000 hits deep.

Unless the server is open (DOCFLOW_AUTH=off, or a server listening on loopback only), send an
API token as `Authorization: Bearer TOKEN` (`docflow token create --scope read|upload|admin`;
admin implies upload implies read), or log in (`POST /api/auth/login`) and send the
`X-CSRF-Token` it returns with every change. 401: no or a bad credential; 403: not enough scope.

Large uploads arrive in pieces: create a batch (`POST /api/batches`), append files to it
(`POST /api/batches/{batch_id}/files`, each part with an `Idempotency-Key` so a retried request
never makes a second document), and read the server's limits at `/api/limits`. The
`docflow upload` command does all of this, resumably.
"""

TAGS = [
    {"name": "upload", "description": "Send documents in."},
    {"name": "progress", "description": "Follow documents, batches and workers."},
    {"name": "documents", "description": "Read results and originals."},
    {"name": "search", "description": "Full-text search with filters."},
    {"name": "document types", "description": "The kinds of document to sort into."},
    {"name": "health", "description": "Is the service working?"},
    {"name": "auth", "description": "Logging in, and the audit log."},
]


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> FastAPI:
    settings = settings or get_settings()
    if configure_logs:
        configure_logging(settings.logs_path, "api.log", settings.log_level,
                          settings.log_format)
    use_settings(settings)  # tasks this API sends count in the broker it sends them to

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = ApiState(settings=settings, store=open_store(settings, migrate=True),
                         dispatcher=Dispatcher(settings))
        if settings.oidc_enabled:
            from docflow.auth.oidc import OidcLogin  # Authlib: imported only when used

            state.oidc = OidcLogin(settings)
        check_credentials_at_start(state.store.db, settings)
        tenants_apart(state.store.db)  # known before a read-only disk could hide it (search)
        trace_database(state.store.db.engine)  # a no-op unless tracing is on
        app.state.docflow = state
        try:
            yield
        finally:
            state.close()

    app = FastAPI(title="docflow", version=docflow.__version__, description=DESCRIPTION,
                  openapi_tags=TAGS, lifespan=lifespan, docs_url=None, redoc_url=None)
    install_docs(app)  # the docs' scripts from the package: /docs works offline
    install_error_handlers(app)
    install_auth_error_handler(app)
    app.add_middleware(RequestLimits)
    # Each route's scope comes from docflow.auth.scopes; health and login stay open.
    # Every route may answer the request-level errors (body limits, storage, bugs).
    protected = [Depends(scoped)]  # authorize, then act for the principal's tenant
    for module in (uploads, tasks, batches, workers, search, documents, rule_test,
                   document_types, classifier, auth_routes, metrics, events, failures,
                   overview, batch_list):
        app.include_router(module.router, dependencies=protected,
                           responses={**ERROR_RESPONSES, **AUTH_RESPONSES})
    app.include_router(health.router, responses=ERROR_RESPONSES)
    app.include_router(auth_routes.public_router, responses=ERROR_RESPONSES)
    if settings.oidc_enabled:  # else its routes are absent (404); Authlib is imported now only
        from docflow.auth import oidc_routes

        app.include_router(oidc_routes.router, responses=ERROR_RESPONSES)
    app.include_router(web_router)  # the web app at /: a page with no data, open to all
    app.add_middleware(AuditMiddleware)
    instrument_app(app, settings)  # OpenTelemetry, only when DOCFLOW_OTEL_ENDPOINT is set
    return app
