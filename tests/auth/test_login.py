"""The web app's login: a password, an HttpOnly session cookie, and a CSRF token for changes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from docflow.auth.scopes import Scope
from docflow.auth.users import create_user
from docflow.config import Settings
from docflow.store import Store
from tests.auth.conftest import ensure_tenant, open_client

PASSWORD = "correct horse battery"


def _user(store: Store, name: str = "ann", scope: Scope = Scope.UPLOAD) -> None:
    with store.db.write() as session:
        ensure_tenant(session, "acme")
        create_user(session, name, PASSWORD, scope, tenant="acme")


def _login(api: TestClient, name: str = "ann", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return api.post("/api/auth/login", json={"username": name, "password": password})


def test_login_sets_a_safe_cookie_and_changes_need_the_csrf_token(
        api: TestClient, any_store: Store) -> None:
    _user(any_store)
    reply = _login(api)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["name"], body["kind"], body["scope"], body["tenant"]) == (
        "ann", "user", "upload", "acme")
    cookie = next(h for h in reply.headers.get_list("set-cookie")
                  if h.startswith("docflow_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    me = api.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["name"] == "ann"

    upload = {"file": ("a.txt", b"hi")}
    refused = api.post("/api/upload", files=upload)
    assert (refused.status_code, refused.json()["code"]) == (403, "csrf_failed")
    wrong = api.post("/api/upload", files=upload, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    done = api.post("/api/upload", files=upload, headers={"X-CSRF-Token": body["csrf_token"]})
    assert done.status_code == 202, done.text
    # Scope still applies: an upload user cannot delete document types.
    assert api.delete("/api/document-types/letter",
                      headers={"X-CSRF-Token": body["csrf_token"]}).status_code == 403

    assert api.post("/api/auth/logout",
                    headers={"X-CSRF-Token": body["csrf_token"]}).status_code == 204
    api.cookies.set("docflow_session", cookie.split(";")[0].split("=", 1)[1])
    after = api.get("/api/auth/me")  # the old cookie, replayed after logout
    assert (after.status_code, after.json()["code"]) == (401, "session_expired")


def test_the_cookie_is_secure_over_https(secured: Settings, any_store: Store) -> None:
    _user(any_store)
    with open_client(secured, base_url="https://docflow.example") as api:
        cookie = _login(api).headers["set-cookie"]
    assert "Secure" in cookie


def test_wrong_passwords_are_refused_and_then_rate_limited(secured: Settings,
                                                           any_store: Store) -> None:
    _user(any_store)
    secured.login_max_failures = 2
    with open_client(secured) as api:
        for _ in range(2):
            assert _login(api, password="wrong password").status_code == 401
        assert _login(api, name="nobody").status_code == 401  # another name: its own count
        limited = _login(api)  # even the right password, for a while
        assert limited.status_code == 429 and limited.json()["code"] == "too_many_attempts"
        assert int(limited.headers["Retry-After"]) > 0
    # From another address the user can still log in.
    with open_client(secured, client=("192.0.2.7", 5000)) as api:
        assert _login(api).status_code == 200


def test_a_trusted_proxys_user_header_logs_in_for_the_web_app(secured: Settings,
                                                              any_store: Store) -> None:
    _user(any_store, "bob", Scope.UPLOAD)
    secured.auth_proxy_header = "X-Forwarded-User"
    secured.auth_trusted_proxies = "10.0.0.0/8"
    header = {"X-Forwarded-User": "bob"}
    with open_client(secured, client=("10.0.0.2", 5000)) as api:
        assert api.get("/api/auth/me", headers=header).json()["kind"] == "proxy"
        assert api.get("/api/auth/me", headers={"X-Forwarded-User": "eve"}).status_code == 401
        change = api.post("/api/batches", json={}, headers=header)
        assert (change.status_code, change.json()["code"]) == (403, "csrf_failed")
        change = api.post("/api/batches", json={}, headers={**header, "X-CSRF-Token": "1"})
        assert change.status_code == 201, change.text
        assert api.post("/api/classifier/train", headers={**header, "X-CSRF-Token": "1"}
                        ).json()["code"] == "insufficient_scope"
    with open_client(secured, client=("192.0.2.7", 5000)) as api:
        assert api.get("/api/auth/me", headers=header).status_code == 401  # not from the proxy
