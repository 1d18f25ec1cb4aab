"""Every route of the real app has a scope decision, and each scope reaches exactly its routes."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.auth.dependency import authorize, scoped
from docflow.auth.scopes import PUBLIC_ROUTES, ROUTE_SCOPES, Scope
from docflow.config import Settings
from tests.auth.conftest import MakeToken, bearer


def _operations(settings: Settings) -> list[tuple[str, str, RouteContext]]:
    """(method, path, route) for each operation the app serves, routers' own included."""
    app = create_app(settings, configure_logs=False)
    return [(method, str(route.path), route) for route in iter_route_contexts(app.routes)
            if isinstance(route.original_route, APIRoute) for method in sorted(route.methods)]


def _depends_on_authorize(route: RouteContext) -> bool:
    """Through `scoped`: authorize, then the principal's tenant filters the store's queries."""
    return any(d.call is scoped and any(s.call is authorize for s in d.dependencies)
               for d in route.dependant.dependencies)


def test_every_route_of_the_app_has_a_scope_decision(settings: Settings) -> None:
    operations = _operations(settings)
    assert len(operations) > 20  # the routers' routes are seen, not only the docs pages
    undecided = [f"{m} {p}" for m, p, _ in operations
                 if (m, p) not in ROUTE_SCOPES and (m, p) not in PUBLIC_ROUTES]
    assert undecided == [], "add these routes to docflow.auth.scopes.ROUTE_SCOPES"


def test_every_protected_route_checks_credentials_and_every_table_line_is_a_route(
        settings: Settings) -> None:
    operations = _operations(settings)
    unguarded = [f"{m} {p}" for m, p, route in operations
                 if (m, p) in ROUTE_SCOPES and not _depends_on_authorize(route)]
    assert unguarded == []
    served = {(m, p) for m, p, _ in operations}
    assert set(ROUTE_SCOPES) - served == set(), "the table names routes the app lacks"


def test_the_documented_classes_of_route_need_their_scope() -> None:
    assert ROUTE_SCOPES["GET", "/api/documents/{document_id}/file"] == Scope.READ
    assert ROUTE_SCOPES["GET", "/api/search"] == Scope.READ
    for route in (("POST", "/api/upload"), ("POST", "/api/batch-upload"),
                  ("POST", "/api/batches"), ("POST", "/api/batches/{batch_id}/files"),
                  ("PATCH", "/api/documents/{document_id}")):
        assert ROUTE_SCOPES[route] == Scope.UPLOAD, route
    for route in (("POST", "/api/document-types"), ("PUT", "/api/document-types/{name}"),
                  ("DELETE", "/api/document-types/{name}"), ("POST", "/api/classifier/train"),
                  ("GET", "/api/audit")):
        assert ROUTE_SCOPES[route] == Scope.ADMIN, route
    assert Scope.ADMIN.allows(Scope.UPLOAD) and Scope.UPLOAD.allows(Scope.READ)
    assert not Scope.READ.allows(Scope.UPLOAD) and not Scope.UPLOAD.allows(Scope.ADMIN)


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    concrete = re.sub(r"\{[^}]+\}", "nosuchthing", path)
    return client.request(method, concrete, headers=headers).status_code


@pytest.mark.parametrize("held", list(Scope))
def test_each_scope_reaches_exactly_the_routes_it_allows(
        held: Scope, api: TestClient, secured: Settings, make_token: MakeToken) -> None:
    token = bearer(make_token(held))
    wrong = []
    for (method, path), needed in sorted(ROUTE_SCOPES.items()):
        status = _call(api, method, path, token)
        anonymous = _call(api, method, path, {})
        if anonymous != 401 or status == 401 or (status == 403) == held.allows(needed):
            wrong.append(f"{held} {method} {path}: {status} (anonymous {anonymous})")
    assert wrong == []


def test_the_open_routes_answer_without_credentials(api: TestClient) -> None:
    for path in ("/health", "/docs", "/redoc", "/openapi.json"):
        assert api.get(path).status_code in (200, 503), path  # /health: 503 without a broker
    reply = api.post("/api/auth/login", json={"username": "nobody", "password": "x" * 8})
    assert reply.status_code == 401 and reply.json()["code"] == "invalid_credentials"


def test_openapi_shows_the_schemes_and_the_401_403_answers(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["token"] == {"type": "http", "scheme": "bearer",
                                "description": schemes["token"]["description"]}
    assert schemes["session"]["in"] == "cookie"
    op = spec["paths"]["/api/documents/{document_id}/file"]["get"]
    assert {"token": []} in op["security"] and {"session": []} in op["security"]
    assert {"401", "403"} <= set(op["responses"])
    assert "security" not in spec["paths"]["/health"]["get"]
