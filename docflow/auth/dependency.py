"""`authorize`: the one dependency every protected route has. It finds who is calling (a bearer
token, a login cookie, or a trusted proxy's header), checks the scope the route needs
(docflow.auth.scopes) and, for cookie logins, the CSRF token of changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from docflow.api.state import get_state
from docflow.auth.audit import ANONYMOUS, UNSAFE_METHODS, Actor, set_actor
from docflow.auth.errors import forbidden, unauthenticated
from docflow.auth.modes import credentials_required, trusted_proxy
from docflow.auth.scopes import Scope, scope_for
from docflow.auth.tokens import verify_token
from docflow.auth.users import csrf_ok, find_user, session_user
from docflow.store.auth import LoginSession, User
from docflow.store.scope import DEFAULT_TENANT, tenant_of, tenant_scope

SESSION_COOKIE = "docflow_session"
CSRF_COOKIE = "docflow_csrf"
CSRF_HEADER = "X-CSRF-Token"

bearer_scheme = HTTPBearer(auto_error=False, scheme_name="token", description=(
    "An API token, made with `docflow token create --scope read|upload|admin`, sent as "
    "`Authorization: Bearer TOKEN`."))
cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="session",
                             description="The web app's login (POST /api/auth/login); "
                             "changes also need the X-CSRF-Token header it returned.")


@dataclass(frozen=True)
class Principal:
    """Who a request acts for, and what they may do."""

    actor: Actor
    scope: Scope
    login: LoginSession | None = None  # set for cookie logins: changes need its CSRF token


OPEN = Principal(ANONYMOUS, Scope.ADMIN)


def authorize(request: Request,
              bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
              cookie: str | None = Security(cookie_scheme)) -> Principal:
    # The route's own path: app.py includes routers without a prefix (a prefix would make every
    # route admin-only, and tests/auth/test_scopes.py fail).
    route = request.scope.get("route")
    needed = scope_for(request.method, getattr(route, "path", request.url.path))
    principal = identify(request, bearer, cookie)
    set_actor(request.scope.setdefault("state", {}), principal.actor)
    request.state.principal = principal
    if needed is None or principal.scope.allows(needed):
        return principal
    raise forbidden("insufficient_scope", f"This needs a token or user with the {needed.value!r} "
                    f"scope; {principal.actor.name!r} has {principal.scope.value!r}.")


async def scoped(principal: Principal = Depends(authorize)) -> AsyncIterator[Principal]:
    """`authorize`, then the request acts for the principal's tenant: the store filters every
    document and batch query by it (docflow.store.tenants). Async, so that the scope is set
    in the request's own context, which the sync route handler's thread runs a copy of."""
    with tenant_scope(tenant_of(principal.actor.tenant)):
        yield principal


def tenant_admin_of(principal: Principal) -> str | None:
    """The named tenant whose tokens and audit rows alone this principal manages; None for the
    default tenant's, who administer the whole installation (and make the tenants' tokens)."""
    tenant = tenant_of(principal.actor.tenant)
    return None if tenant == DEFAULT_TENANT else tenant


def identify(request: Request, bearer: HTTPAuthorizationCredentials | None,
             cookie: str | None) -> Principal:
    """Who is calling. On an open server (DOCFLOW_AUTH=off, or auto on loopback) credentials
    are optional: a valid one still says who it is and its scope applies; a wrong one counts
    as none, as it did before authentication existed."""
    state = get_state(request)
    settings, db = state.settings, state.store.db
    if settings.auth == "off":
        return OPEN
    server = request.scope.get("server")
    required = credentials_required(settings, server[0] if server else None)
    if bearer is not None:
        row = verify_token(db, bearer.credentials)
        if row is not None:
            return Principal(Actor(row.name, "token", row.id, row.tenant), Scope(row.scope))
        if required:
            raise unauthenticated("invalid_token", "The token is not valid: unknown, expired "
                                  "or revoked. Make a new one with `docflow token create`.")
    elif request.headers.get("authorization") and required:
        raise unauthenticated("invalid_token", "Send the token as `Authorization: Bearer TOKEN`.")
    if cookie:
        found = session_user(db, cookie)
        if found is not None:
            return _cookie_login(request, *found)
        if required:
            raise unauthenticated("session_expired", "The login has expired or ended; log in "
                                  "again (POST /api/auth/login).")
    proxied = _proxy_login(request)
    if proxied is not None:
        return proxied
    if required:
        raise unauthenticated("unauthorized", "This server needs credentials: send an API token "
                              "as `Authorization: Bearer TOKEN` (docflow token create), or log "
                              "in (POST /api/auth/login).")
    if request.method in UNSAFE_METHODS and _cross_site(request):
        # An open server on a laptop is still reachable from any web page its user visits.
        raise forbidden("cross_site", "Changes to an open docflow server are refused from "
                        "other web sites.")
    return OPEN


def _cookie_login(request: Request, user: User, login: LoginSession) -> Principal:
    principal = Principal(Actor(user.name, "user", None, user.tenant), Scope(user.scope), login)
    if request.method in UNSAFE_METHODS and not csrf_ok(login, request.headers.get(CSRF_HEADER)):
        set_actor(request.scope.setdefault("state", {}), principal.actor)
        raise forbidden("csrf_failed", f"A change made with a login cookie needs the "
                        f"{CSRF_HEADER} header that POST /api/auth/login returned.")
    return principal


def _proxy_login(request: Request) -> Principal | None:
    """The user an authenticating proxy in front of the web app names, if it is trusted."""
    state = get_state(request)
    settings, db = state.settings, state.store.db
    header = settings.auth_proxy_header
    client = request.client.host if request.client else None
    name = request.headers.get(header) if header else None
    if not name or not trusted_proxy(settings, client):
        return None
    with db.read() as session:
        user = find_user(session, name)
    if user is None:
        raise unauthenticated("unknown_user", f"The proxy's user {name!r} is not a docflow "
                              "user (docflow user create).")
    if request.method in UNSAFE_METHODS and not request.headers.get(CSRF_HEADER):
        # A custom header cannot be sent cross-site without CORS: enough against CSRF here.
        raise forbidden("csrf_failed", f"A change through the login proxy needs an "
                        f"{CSRF_HEADER} header (any value).")
    return Principal(Actor(user.name, "proxy", None, user.tenant), Scope(user.scope))


def _cross_site(request: Request) -> bool:
    """Whether a browser sent this from another site's page (scripts and curl send neither
    header; a page of the server itself sends its own origin)."""
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc != request.headers.get("host")
