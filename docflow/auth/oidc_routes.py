"""The OpenID Connect login: /api/auth/oidc/login and /api/auth/oidc/callback.

These routes exist only when DOCFLOW_OIDC_ISSUER and DOCFLOW_OIDC_CLIENT_ID are set (app.py
imports this module, and so Authlib, only then). A browser reaches them by navigation, so
failures answer a short HTML page to a browser and JSON `{code, message}` to anything else.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from docflow.api.errors import ErrorBody
from docflow.api.state import get_state
from docflow.auth.audit import Actor, set_actor
from docflow.auth.oidc import STATE_COOKIE, STATE_PATH, STATE_SECONDS, OidcFailure, OidcLogin
from docflow.auth.routes import OIDC_LOGIN_PATH, cookies_secure, set_login_cookies
from docflow.auth.users import start_session

router = APIRouter(tags=["auth"])


def _failure(what: str) -> dict[str, object]:
    return {"model": ErrorBody, "description": what,
            "content": {"text/html": {"schema": {"type": "string"}}}}


@router.get(OIDC_LOGIN_PATH, status_code=302, response_class=RedirectResponse,
            summary="Log in through the OpenID provider (redirects there)",
            responses={302: {"description": "To the provider's login page"},
                       502: _failure("The provider cannot be reached or its "
                                     "discovery document is wrong (oidc_unavailable, "
                                     "oidc_misconfigured)")})
async def oidc_login(request: Request) -> Response:
    """Send the browser to the provider with a fresh state, nonce and PKCE challenge; they
    travel to the callback in an encrypted cookie valid for 10 minutes."""
    oidc = _oidc(request)
    settings = get_state(request).settings
    redirect_uri = settings.oidc_redirect_uri or str(request.url_for("oidc_callback"))
    try:
        made = await oidc.redirect(redirect_uri)
    except OidcFailure as exc:
        return _failed(request, oidc, exc)
    request.scope.setdefault("state", {})["audit_target"] = f"oidc {oidc.name}"
    response = RedirectResponse(made.url, status_code=302)
    # Lax: the provider's redirect back is a top-level navigation from its site.
    response.set_cookie(STATE_COOKIE, made.state_cookie, max_age=STATE_SECONDS, httponly=True,
                        samesite="lax", secure=cookies_secure(request), path=STATE_PATH)
    return response


@router.get("/api/auth/oidc/callback", status_code=302, response_class=RedirectResponse,
            summary="Where the OpenID provider sends the browser back",
            responses={302: {"description": "Logged in (the session and CSRF cookies are "
                             "set, as by POST /api/auth/login); on to the web app"},
                       400: _failure("No login was started in this browser, it "
                                     "expired, or its state does not match"),
                       401: _failure("The provider refused the login or the code, "
                                     "or its id_token is not valid"),
                       403: _failure("The user is not a docflow user (unknown_user), "
                                     "or the token names none"),
                       502: _failure("The provider cannot be reached"),
                       503: _failure("DOCFLOW_OIDC_DEFAULT_TENANT names no tenant")})
async def oidc_callback(
        request: Request,
        code: str | None = Query(None, max_length=4096, description="The authorization code."),
        state: str | None = Query(None, max_length=512, description="The state sent to the "
                                  "provider."),
        error: str | None = Query(None, max_length=200, description="The provider's refusal "
                                  "(e.g. access_denied)."),
        error_description: str | None = Query(None, max_length=1000)) -> Response:
    """Exchange the code, validate the id_token (signature, issuer, audience, expiry, nonce),
    find or make the docflow user it names, and log the browser in."""
    oidc = _oidc(request)
    db = get_state(request).store.db
    try:
        if error:
            raise OidcFailure(401, "oidc_refused", f"The provider refused the login: {error}"
                              + (f" ({error_description})" if error_description else ""))
        claims = await oidc.claims(request.cookies.get(STATE_COOKIE), state, code)
        name = oidc.user_name(claims)
        set_actor(request.scope.setdefault("state", {}), Actor(name, "user"))
        user = await run_in_threadpool(oidc.user, db, name)
    except OidcFailure as exc:
        return _failed(request, oidc, exc)
    started = await run_in_threadpool(start_session, db, user,
                                      get_state(request).settings.auth_session_hours)
    set_actor(request.scope.setdefault("state", {}), Actor(user.name, "user", None, user.tenant))
    request.scope.setdefault("state", {})["audit_target"] = f"oidc {oidc.name}"
    response = RedirectResponse("/", status_code=302)
    set_login_cookies(request, response, started)
    response.delete_cookie(STATE_COOKIE, path=STATE_PATH)
    return response


def _oidc(request: Request) -> OidcLogin:
    oidc = get_state(request).oidc
    assert oidc is not None  # this router is only included when it is configured
    return oidc


def _failed(request: Request, oidc: OidcLogin, exc: OidcFailure) -> Response:
    """The failure, audited with its code; an HTML page for a browser, else JSON."""
    request.scope.setdefault("state", {})["audit_target"] = f"oidc {oidc.name}: {exc.code}"
    response: Response
    if "text/html" in request.headers.get("accept", ""):
        response = HTMLResponse(status_code=exc.status, content=(
            "<!doctype html><meta charset=utf-8><title>Login failed</title>"
            f"<h1>Login with {escape(oidc.name)} failed</h1><p>{escape(exc.message)}</p>"
            f"<p><code>{escape(exc.code)}</code></p><p><a href=\"/\">Back to docflow</a></p>"))
    else:
        response = JSONResponse(status_code=exc.status,
                                content={"code": exc.code, "message": exc.message})
    response.delete_cookie(STATE_COOKIE, path=STATE_PATH)
    return response
