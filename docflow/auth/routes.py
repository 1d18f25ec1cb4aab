"""/api/auth (login, logout, who am I) and /api/audit."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from docflow.api.errors import ERROR_RESPONSES, ApiError, ErrorBody, not_found
from docflow.api.state import get_state
from docflow.auth.audit import MAX_LIMIT, Actor, failed_logins, query_events, set_actor
from docflow.auth.dependency import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Principal,
    authorize,
    tenant_admin_of,
)
from docflow.auth.errors import AuthError, forbidden, unauthenticated
from docflow.auth.modes import credentials_required
from docflow.auth.scopes import MAX_EXPIRES_DAYS, Scope
from docflow.auth.tokens import TokenError, create_token, is_live, list_tokens, revoke_token
from docflow.auth.users import NewSession, check_password, end_session, start_session
from docflow.store.auth import ApiToken
from docflow.store.tenants import UnknownTenant

# Login is open: it is how credentials are had. The rest declare `authorize` in app.py.
public_router = APIRouter(tags=["auth"])
router = APIRouter(tags=["auth"])
OIDC_LOGIN_PATH = "/api/auth/oidc/login"  # docflow.auth.oidc_routes, when OIDC is configured


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class Me(BaseModel):
    name: str
    kind: str = Field(description="token, user, proxy, or anonymous (a server open to all)")
    scope: str
    tenant: str | None
    token_id: str | None
    credentials_required: bool


class LoginResponse(Me):
    csrf_token: str = Field(description="Send it as X-CSRF-Token with every POST, PUT, PATCH "
                            "and DELETE made with the login cookie.")


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_kind: str
    token_id: str | None
    tenant: str | None
    action: str
    target: str | None
    client: str | None
    status: int


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    next_before_id: int | None = Field(description="Pass as before_id for the next, older "
                                       "page; null at the end.")


def _me(request: Request, principal: Principal) -> Me:
    server = request.scope.get("server")
    return Me(name=principal.actor.name, kind=principal.actor.kind, scope=principal.scope.value,
              tenant=principal.actor.tenant, token_id=principal.actor.token_id,
              credentials_required=credentials_required(get_state(request).settings,
                                                        server[0] if server else None))


@public_router.post("/api/auth/login", response_model=LoginResponse,
                    summary="Log in with a user's password (sets the session cookie)",
                    responses={401: {"description": "Wrong user name or password"},
                               429: {"description": "Too many failed logins; wait"}})
def login(body: LoginRequest, request: Request, response: Response) -> LoginResponse:
    """Check a user's password (`docflow user create`), set the HttpOnly session cookie and
    return the CSRF token every change made with that cookie must send as X-CSRF-Token.
    Repeated failures for one user from one address are refused for a while (429)."""
    state = get_state(request)
    settings, db = state.settings, state.store.db
    client = request.client.host if request.client else None
    set_actor(request.scope.setdefault("state", {}), Actor(body.username, "user"))
    with db.read() as session:
        failures = failed_logins(session, body.username, client, settings.login_window_seconds)
    if failures >= settings.login_max_failures:
        raise AuthError(429, "too_many_attempts", "Too many failed logins for this user from "
                        "this address; try again later.",
                        {"Retry-After": str(int(settings.login_window_seconds))})
    user = check_password(db, body.username, body.password)
    if user is None:
        raise unauthenticated("invalid_credentials", "Wrong user name or password.")
    started = start_session(db, user, settings.auth_session_hours)
    set_actor(request.scope["state"], Actor(user.name, "user", None, user.tenant))
    set_login_cookies(request, response, started)
    principal = Principal(Actor(user.name, "user", None, user.tenant), Scope(user.scope))
    return LoginResponse(**_me(request, principal).model_dump(), csrf_token=started.csrf_token)


def cookies_secure(request: Request) -> bool:
    settings = get_state(request).settings
    return (settings.auth_cookie_secure if settings.auth_cookie_secure is not None
            else request.url.scheme == "https")


def set_login_cookies(request: Request, response: Response, started: NewSession) -> None:
    """The web app's login: the session cookie, and the CSRF token its page sends back."""
    secure = cookies_secure(request)
    max_age = int(get_state(request).settings.auth_session_hours * 3600)
    response.set_cookie(SESSION_COOKIE, started.session_id, max_age=max_age, httponly=True,
                        samesite="lax", secure=secure, path="/")
    # Readable by the page's script, so a reloaded web app can still send X-CSRF-Token.
    response.set_cookie(CSRF_COOKIE, started.csrf_token, max_age=max_age, httponly=False,
                        samesite="lax", secure=secure, path="/")


class LoginMethods(BaseModel):
    password: bool = Field(True, description="POST /api/auth/login with a user's password.")
    oidc_name: str | None = Field(description="The OpenID provider to log in with (\"Log in "
                                  "with NAME\"); null when OIDC login is not configured.")
    oidc_login_url: str | None = Field(description="Send the browser here to log in through "
                                       "the provider; null when not configured.")


@public_router.get("/api/auth/methods", response_model=LoginMethods,
                    summary="How the web app's users may log in")
def methods(request: Request) -> LoginMethods:
    """Open to all, so the login page can offer "Log in with ..." before anyone has."""
    oidc = get_state(request).oidc
    return LoginMethods(oidc_name=oidc.name if oidc else None,
                        oidc_login_url=OIDC_LOGIN_PATH if oidc else None)


@router.post("/api/auth/logout", status_code=204, summary="End the login session")
def logout(request: Request, response: Response,
           principal: Principal = Depends(authorize)) -> Response:
    """End this browser's login at once (the session row is deleted) and clear its cookies."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        end_session(get_state(request).store.db, cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/api/auth/me", response_model=Me, summary="Who the request acts for")
def me(request: Request, principal: Principal = Depends(authorize)) -> Me:
    """The token, user or proxy login the request acts for, with its scope and tenant."""
    return _me(request, principal)


@router.get("/api/audit", response_model=AuditPage, tags=["auth"],
            summary="The audit log, newest first (admin)")
def audit(request: Request,
          actor: str | None = Query(None, description="Only this token name or user name."),
          action: str | None = Query(None, description="Only this action: upload, download, "
                                     "correct, type_change, type_delete, train, login, "
                                     "oidc_redirect, token_create, token_revoke, "
                                     "user_create, ..."),
          tenant: str | None = Query(None, description="Only this tenant."),
          since: datetime | None = Query(None, description="At or after (ISO 8601; UTC "
                                         "without a zone)."),
          until: datetime | None = Query(None, description="Before (ISO 8601)."),
          before_id: int | None = Query(None, ge=1, le=2**63 - 1, description="Only events "
                                        "older than this id: the next_before_id of the "
                                        "previous page."),
          limit: int = Query(100, ge=1, le=MAX_LIMIT, description="Events per page."),
          principal: Principal = Depends(authorize)) -> AuditPage:
    """Who did what, newest first: every change made through the API (whatever its outcome),
    every download of an original, and token and user changes made on the command line."""
    # A time without a zone is UTC, as every time docflow stores.
    since, until = (t.replace(tzinfo=UTC) if t and t.tzinfo is None else t for t in (since, until))
    own = tenant_admin_of(principal)
    if own is not None and tenant not in (None, own):
        return AuditPage(events=[], next_before_id=None)
    with get_state(request).store.db.read() as session:
        rows = query_events(session, actor=actor, action=action, tenant=own or tenant, since=since,
                            until=until, before_id=before_id, limit=limit)
    events = [AuditEventOut.model_validate(r, from_attributes=True) for r in rows]
    return AuditPage(events=events,
                     next_before_id=events[-1].id if len(events) == limit else None)


class TokenOut(BaseModel):
    id: str = Field(description="Public: the part after dfl_ in the token.")
    name: str
    scope: str
    tenant: str | None
    state: str = Field(description="live, expired or revoked")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenRequest(BaseModel):
    scope: Scope = Field(description="read; upload (and read); admin (everything).")
    name: str | None = Field(None, min_length=1, max_length=200,
                             description="A name to know it by (default token-ID).")
    tenant: str | None = Field(None, max_length=200, description="The tenant it acts for.")
    expires_days: float | None = Field(None, gt=0, le=MAX_EXPIRES_DAYS,
                                       description="Days until it stops working; null: never.")


class NewTokenOut(TokenOut):
    token: str = Field(description="The token itself: shown this once, never stored.")


def _token_out(row: ApiToken) -> TokenOut:
    state = "revoked" if row.revoked_at else "live" if is_live(row) else "expired"
    return TokenOut(id=row.id, name=row.name, scope=row.scope, tenant=row.tenant, state=state,
                    created_at=row.created_at, expires_at=row.expires_at,
                    last_used_at=row.last_used_at, revoked_at=row.revoked_at)


@router.get("/api/auth/tokens", response_model=list[TokenOut], summary="API tokens (admin)")
def tokens(request: Request, principal: Principal = Depends(authorize)) -> list[TokenOut]:
    """Every API token with its scope, tenant and state; never a secret. A tenant's admin
    sees its tenant's tokens only."""
    own = tenant_admin_of(principal)
    with get_state(request).store.db.read() as session:
        return [_token_out(t) for t in list_tokens(session) if own is None or t.tenant == own]


@router.post("/api/auth/tokens", response_model=NewTokenOut, status_code=201,
             responses={**ERROR_RESPONSES, 409: {"model": ErrorBody, "description":
                        "A live token already has that name (token_name_taken)"}},
             summary="Make an API token (admin)")
def new_token(body: NewTokenRequest, request: Request,
              principal: Principal = Depends(authorize)) -> NewTokenOut:
    """Make a token, as `docflow token create` does; the answer holds the token, once. A
    tenant's admin makes tokens of its own tenant only (tenant left out: its own)."""
    own = tenant_admin_of(principal)
    if own is not None and body.tenant not in (None, own):
        raise forbidden("other_tenant", f"An admin of the tenant {own!r} makes tokens of "
                        "that tenant only.")
    try:
        with get_state(request).store.db.write() as session:
            made = create_token(session, body.scope, name=body.name, tenant=own or body.tenant,
                                expires_days=body.expires_days)
    except UnknownTenant as exc:
        raise ApiError(422, exc.code, str(exc)) from None
    except TokenError as exc:
        raise ApiError(409, "token_name_taken", str(exc)) from None
    request.scope["state"]["audit_target"] = f"token {made.row.id} ({made.row.name})"
    return NewTokenOut(**_token_out(made.row).model_dump(), token=made.token)


@router.delete("/api/auth/tokens/{token_id}", status_code=204, responses=ERROR_RESPONSES,
               summary="Revoke an API token (admin)")
def revoke(token_id: str = Path(description="The token's id (GET /api/auth/tokens)."),
           *, request: Request, principal: Principal = Depends(authorize)) -> Response:
    """Stop a token from working, at once, on every API process."""
    own = tenant_admin_of(principal)
    with get_state(request).store.db.write() as session:
        row = session.get(ApiToken, token_id)
        if row is None or (own is not None and row.tenant != own):
            raise not_found("token", token_id)
        revoke_token(session, token_id)
    return Response(status_code=204)
