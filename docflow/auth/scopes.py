"""Scopes, and the scope every API route needs: one table, so no route is left undecided."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    READ = "read"
    UPLOAD = "upload"
    ADMIN = "admin"

    def allows(self, needed: Scope) -> bool:
        """admin implies upload implies read."""
        return _RANK[self] >= _RANK[needed]


_RANK = {Scope.READ: 0, Scope.UPLOAD: 1, Scope.ADMIN: 2}

# Answered without credentials: liveness, the API's own docs, and the way to get credentials.
PUBLIC_ROUTES = frozenset({
    ("GET", "/health"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
    ("GET", "/openapi.json"), ("POST", "/api/auth/login"), ("GET", "/api/auth/methods"),
    ("GET", "/api/auth/oidc/login"), ("GET", "/api/auth/oidc/callback"),
    # The web app's page and assets: code, no data; its API calls need credentials.
    ("GET", "/"), ("GET", "/assets/{path:path}"),
})

# (method, route path) -> the scope it needs. A route missing here is refused to everyone but
# admins, and tests/auth/test_scopes.py fails until it is given a line.
# The longest a credential may be given: a hundred years (longer overflows dates).
MAX_EXPIRES_DAYS = 36_500

ROUTE_SCOPES: dict[tuple[str, str], Scope] = {
    # Reading: documents, their text and originals, progress, search, settings.
    ("GET", "/api/limits"): Scope.READ,
    ("GET", "/api/task-status/{task_id}"): Scope.READ,
    ("GET", "/api/batch-status/{batch_id}"): Scope.READ,
    ("GET", "/api/batches/{batch_id}"): Scope.READ,
    ("GET", "/api/workers"): Scope.READ,
    ("GET", "/api/search"): Scope.READ,
    ("GET", "/api/documents"): Scope.READ,
    ("GET", "/api/documents/{document_id}"): Scope.READ,
    ("GET", "/api/documents/{document_id}/file"): Scope.READ,
    ("GET", "/api/document-types"): Scope.READ,
    ("GET", "/api/document-types/{name}"): Scope.READ,
    ("GET", "/api/classifier"): Scope.READ,
    ("GET", "/api/auth/me"): Scope.READ,
    ("POST", "/api/auth/logout"): Scope.READ,
    # Prometheus scrapes with a read token (bearer_token_file) unless the server is open.
    ("GET", "/metrics"): Scope.READ,
    ("GET", "/api/overview"): Scope.READ,
    ("GET", "/api/batches"): Scope.READ,
    ("GET", "/api/events"): Scope.READ,
    ("GET", "/api/batches/{batch_id}/events"): Scope.READ,
    ("GET", "/api/batches/{batch_id}/failures"): Scope.READ,
    ("GET", "/api/batches/{batch_id}/failures/export"): Scope.READ,
    ("POST", "/api/document-types/test-rule"): Scope.READ,
    # Sending documents in and correcting results.
    ("POST", "/api/upload"): Scope.UPLOAD,
    ("POST", "/api/batch-upload"): Scope.UPLOAD,
    ("POST", "/api/batches"): Scope.UPLOAD,
    ("POST", "/api/batches/{batch_id}/files"): Scope.UPLOAD,
    ("PATCH", "/api/documents/{document_id}"): Scope.UPLOAD,
    ("POST", "/api/documents/{document_id}/cancel"): Scope.UPLOAD,
    ("POST", "/api/batches/{batch_id}/cancel"): Scope.UPLOAD,
    ("POST", "/api/batches/{batch_id}/retry"): Scope.UPLOAD,
    # Changing how every document is sorted, and who may do what.
    ("POST", "/api/document-types"): Scope.ADMIN,
    ("PUT", "/api/document-types/{name}"): Scope.ADMIN,
    ("DELETE", "/api/document-types/{name}"): Scope.ADMIN,
    ("POST", "/api/classifier/train"): Scope.ADMIN,
    ("GET", "/api/audit"): Scope.ADMIN,
    ("GET", "/api/auth/tokens"): Scope.ADMIN,
    ("POST", "/api/auth/tokens"): Scope.ADMIN,
    ("DELETE", "/api/auth/tokens/{token_id}"): Scope.ADMIN,
}


def scope_for(method: str, path: str) -> Scope | None:
    """The scope a route needs; None for a public one. Undecided routes need admin."""
    method = "GET" if method == "HEAD" else method
    if (method, path) in PUBLIC_ROUTES:
        return None
    return ROUTE_SCOPES.get((method, path), Scope.ADMIN)
