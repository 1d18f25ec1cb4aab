"""Logging in to the web app through an OpenID provider: a real one, made in the test
(tests/auth/oidc_provider.py), which the API reaches over HTTP as it would Keycloak or Google."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from pydantic import SecretStr
from schemathesis.generation import GenerationMode

from docflow.api.app import create_app
from docflow.auth.audit import query_events
from docflow.auth.oidc import STATE_COOKIE, STATE_PATH
from docflow.auth.scopes import Scope, scope_for
from docflow.auth.users import create_user, find_user
from docflow.broker import free_port
from docflow.config import OidcUsers, Settings
from docflow.serve import credentials_ready
from docflow.store import Store
from tests.api.test_schemathesis import EXAMPLES, _run
from tests.auth.conftest import ensure_tenant, open_client
from tests.auth.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider

ANN = "ann@example.com"


@pytest.fixture
def provider() -> Iterator[Provider]:
    started = Provider().start()
    yield started
    started.stop()


@pytest.fixture
def with_oidc(secured: Settings, provider: Provider) -> Settings:
    secured.oidc_issuer = provider.issuer
    secured.oidc_client_id = CLIENT_ID
    secured.oidc_client_secret = SecretStr(CLIENT_SECRET)
    secured.oidc_name = "Test SSO"
    return secured


@pytest.fixture
def web(with_oidc: Settings) -> Iterator[TestClient]:
    with open_client(with_oidc) as client:
        yield client


def _user(store: Store, name: str = ANN, scope: Scope = Scope.UPLOAD) -> None:
    with store.db.write() as session:
        ensure_tenant(session, "acme")
        create_user(session, name, "a password never used", scope, tenant="acme")


def _to_provider(web: TestClient) -> str:
    """The browser asks docflow to log in, goes to the provider and is sent back: the
    callback URL it is sent back to, code and state in its query."""
    start = web.get("/api/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 302, start.text
    assert start.headers["location"].startswith(web.app.state.docflow.oidc.issuer)  # type: ignore[attr-defined]
    back = httpx.get(start.headers["location"], follow_redirects=False)
    assert back.status_code == 302, back.text
    return back.headers["location"]


def _cookie_set(reply: httpx.Response, name: str) -> bool:
    return any(h.startswith(f"{name}=") and "Max-Age=0" not in h
               for h in reply.headers.get_list("set-cookie"))


def _audit(store: Store, action: str) -> list[tuple[str, str | None, int]]:
    with store.db.read() as session:
        return [(e.actor, e.target, e.status) for e in query_events(session, action=action)]


def test_a_provider_login_is_a_web_app_login_with_its_cookie_and_csrf_token(
        web: TestClient, any_store: Store) -> None:
    _user(any_store)
    methods = web.get("/api/auth/methods").json()
    assert methods == {"password": True, "oidc_name": "Test SSO",
                       "oidc_login_url": "/api/auth/oidc/login"}

    done = web.get(_to_provider(web), follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (302, "/")
    session = next(h for h in done.headers.get_list("set-cookie")
                   if h.startswith("docflow_session="))
    assert "HttpOnly" in session and "SameSite=lax" in session
    assert STATE_COOKIE not in web.cookies  # the flow's secrets are spent

    me = web.get("/api/auth/me").json()
    assert (me["name"], me["kind"], me["scope"], me["tenant"]) == (ANN, "user", "upload", "acme")
    upload = {"file": ("a.txt", b"hi")}
    refused = web.post("/api/upload", files=upload)
    assert (refused.status_code, refused.json()["code"]) == (403, "csrf_failed")
    csrf = web.cookies["docflow_csrf"]
    assert web.post("/api/upload", files=upload,
                    headers={"X-CSRF-Token": csrf}).status_code == 202

    assert _audit(any_store, "oidc_redirect") == [("anonymous", "oidc Test SSO", 302)]
    assert _audit(any_store, "login") == [(ANN, "oidc Test SSO", 302)]
    paths = web.get("/openapi.json").json()["paths"]
    assert {"/api/auth/oidc/login", "/api/auth/oidc/callback", "/api/auth/methods"} <= set(paths)
    assert scope_for("GET", "/api/auth/oidc/callback") is None  # public: it is how one logs in


def test_a_callback_whose_state_is_not_this_browsers_is_refused_before_the_code_is_used(
        web: TestClient, with_oidc: Settings, any_store: Store, provider: Provider) -> None:
    _user(any_store)
    callback = _to_provider(web)
    forged = web.get(callback.replace("state=", "state=x"), follow_redirects=False)
    assert (forged.status_code, forged.json()["code"]) == (400, "oidc_state_mismatch")
    # A callback URL sent to another browser (login CSRF) finds no login started there.
    callback = _to_provider(web)
    with open_client(with_oidc) as other:
        stolen = other.get(callback, follow_redirects=False)
    assert (stolen.status_code, stolen.json()["code"]) == (400, "oidc_state_missing")
    assert provider.token_requests == 0
    assert not _cookie_set(forged, "docflow_session") and not _cookie_set(stolen, "docflow_session")
    assert [s for _, _, s in _audit(any_store, "login")] == [400, 400]


def test_a_replayed_code_logs_no_one_in(web: TestClient, any_store: Store) -> None:
    _user(any_store)
    callback = _to_provider(web)
    state_cookie = web.cookies[STATE_COOKIE]
    assert web.get(callback, follow_redirects=False).status_code == 302
    # Someone who copied the callback URL and the state cookie replays them.
    web.cookies.clear()
    web.cookies.set(STATE_COOKIE, state_cookie, domain="testserver.local", path=STATE_PATH)
    replay = web.get(callback, follow_redirects=False)
    assert (replay.status_code, replay.json()["code"]) == (401, "oidc_code_refused")
    assert not _cookie_set(replay, "docflow_session")


def _other_key(provider: Provider) -> None:
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})


BAD_TOKENS: dict[str, Callable[[Provider], None]] = {
    "signed with another key": _other_key,
    "for another client": lambda p: p.id_token_changes.update(aud="someone-else"),
    # Authlib alone accepts this one: the audience is checked because docflow asks it to be.
    "for another client, naming us as azp": lambda p: p.id_token_changes.update(
        aud="someone-else", azp=CLIENT_ID),
    "from another issuer": lambda p: p.id_token_changes.update(iss="http://evil.example"),
    "expired": lambda p: p.id_token_changes.update(exp=int(time.time()) - 3600,
                                                   iat=int(time.time()) - 7200),
    "of another login (nonce)": lambda p: p.id_token_changes.update(nonce="another login's"),
}


@pytest.mark.parametrize("spoil", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_an_id_token_that_does_not_validate_logs_no_one_in(
        spoil: Callable[[Provider], None], web: TestClient, any_store: Store,
        provider: Provider) -> None:
    _user(any_store)
    spoil(provider)
    reply = web.get(_to_provider(web), follow_redirects=False)
    assert (reply.status_code, reply.json()["code"]) == (401, "oidc_invalid_token"), reply.text
    assert not _cookie_set(reply, "docflow_session")
    assert web.get("/api/auth/me").status_code == 401
    assert _audit(any_store, "login") == [("anonymous", "oidc Test SSO: oidc_invalid_token", 401)]


def test_an_unknown_user_is_refused_with_a_page_that_says_so(
        web: TestClient, any_store: Store, provider: Provider) -> None:
    provider.user = {"sub": "u-2", "email": "zed@example.com", "email_verified": True}
    reply = web.get(_to_provider(web), follow_redirects=False)
    assert (reply.status_code, reply.json()["code"]) == (403, "unknown_user")
    assert "docflow user create" in reply.json()["message"]
    page = web.get(_to_provider(web), headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert "zed@example.com" in page.text and "is not a docflow user" in page.text
    with any_store.db.read() as session:
        assert find_user(session, "zed@example.com") is None
    assert [(a, s) for a, _, s in _audit(any_store, "login")] == [("zed@example.com", 403)] * 2


def test_create_mode_makes_the_user_with_the_default_scope_in_the_default_tenant(
        with_oidc: Settings, any_store: Store, provider: Provider) -> None:
    with any_store.db.write() as session:
        ensure_tenant(session, "acme")
    with_oidc.oidc_users = OidcUsers.CREATE
    with_oidc.oidc_default_tenant = "acme"
    provider.user = {"sub": "u-3", "preferred_username": "bo"}  # no e-mail: the next claim
    with open_client(with_oidc) as web:
        assert web.get(_to_provider(web), follow_redirects=False).status_code == 302
        me = web.get("/api/auth/me").json()
        assert (me["name"], me["scope"], me["tenant"]) == ("bo", "read", "acme")
        upload = web.post("/api/upload", files={"file": ("a.txt", b"hi")},
                          headers={"X-CSRF-Token": web.cookies["docflow_csrf"]})
        assert (upload.status_code, upload.json()["code"]) == (403, "insufficient_scope")
        web.cookies.clear()
        assert web.get(_to_provider(web), follow_redirects=False).status_code == 302  # again
    with any_store.db.read() as session:
        user = find_user(session, "bo")
        assert user is not None and (user.scope, user.tenant) == ("read", "acme")


def test_the_providers_refusal_and_an_unverified_email_log_no_one_in(
        web: TestClient, any_store: Store, provider: Provider) -> None:
    _user(any_store)
    denied = web.get("/api/auth/oidc/callback?error=access_denied&state=x",
                     follow_redirects=False)
    assert (denied.status_code, denied.json()["code"]) == (401, "oidc_refused")
    provider.user = {**provider.user, "email_verified": False}
    unverified = web.get(_to_provider(web), follow_redirects=False)
    assert (unverified.status_code, unverified.json()["code"]) == (403, "oidc_email_unverified")


def test_without_oidc_settings_its_routes_are_absent(secured: Settings,
                                                     any_store: Store) -> None:
    with open_client(secured) as api:
        assert api.get("/api/auth/oidc/login", follow_redirects=False).status_code == 404
        assert api.get("/api/auth/oidc/callback?code=a&state=b").status_code == 404
        assert api.get("/api/auth/methods").json() == {
            "password": True, "oidc_name": None, "oidc_login_url": None}
        assert "/api/auth/oidc/login" not in api.get("/openapi.json").json()["paths"]


def test_a_public_server_may_start_without_users_when_the_provider_makes_them(
        settings: Settings, store: Store) -> None:
    settings.listen_host = "0.0.0.0"
    settings.oidc_issuer, settings.oidc_client_id = "https://sso.example", CLIENT_ID
    assert not credentials_ready(store.db, settings)  # map mode: nobody could get in
    settings.oidc_users = OidcUsers.CREATE
    assert credentials_ready(store.db, settings)


def test_the_oidc_routes_keep_their_documented_contract(with_oidc: Settings, any_store: Store,
                                                        provider: Provider) -> None:
    """schemathesis, as tests/api/test_schemathesis.py runs it, on the routes OIDC adds."""
    app = create_app(with_oidc, configure_logs=False)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    requests: Counter[str] = Counter()
    failures: dict[str, set[str]] = {}
    operations = [op for op in (r.ok() for r in schema.get_all_operations())
                  if op.path.startswith(("/api/auth/oidc/", "/api/auth/methods"))]
    assert len(operations) == 3
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run(operation, mode, EXAMPLES["sqlite"], requests, failures)
    assert failures == {}
    assert sum(requests.values()) > 100


def test_a_provider_that_cannot_be_reached_or_is_not_the_issuer_is_a_clear_502(
        with_oidc: Settings, any_store: Store, provider: Provider) -> None:
    with_oidc.oidc_issuer = f"http://127.0.0.1:{free_port()}/realms/test"  # nothing listens
    with open_client(with_oidc) as web:
        down = web.get("/api/auth/oidc/login", follow_redirects=False)
    assert (down.status_code, down.json()["code"]) == (502, "oidc_unavailable")
    # A discovery document that names another issuer than the one configured.
    with_oidc.oidc_issuer = provider.issuer + "/"
    provider.issuer = "http://127.0.0.1:1/elsewhere"
    with open_client(with_oidc) as web:
        other = web.get("/api/auth/oidc/login", follow_redirects=False)
    assert (other.status_code, other.json()["code"]) == (502, "oidc_misconfigured")
    assert [s for _, _, s in _audit(any_store, "oidc_redirect")] == [502, 502]
