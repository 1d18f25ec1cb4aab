"""DOCFLOW_AUTH: auto is open on a laptop's loopback and closed anywhere else; `docflow serve`
will not start where anyone could reach it and nobody could log in."""

from __future__ import annotations

import logging
import re

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from docflow.auth.modes import credentials_required, is_loopback, trusted_proxy
from docflow.auth.scopes import Scope
from docflow.auth.tokens import create_token
from docflow.broker import free_port
from docflow.cli import app as cli
from docflow.config import AuthMode, Settings
from docflow.serve import child_env, credentials_ready
from docflow.serve import serve as run_serve
from docflow.store import open_store
from tests.auth.conftest import open_client


@pytest.mark.parametrize(("mode", "host", "needs_credentials"), [
    (AuthMode.AUTO, "127.0.0.1", False), (AuthMode.AUTO, "localhost", False),
    (AuthMode.AUTO, "::1", False), (AuthMode.AUTO, "0.0.0.0", True),
    (AuthMode.AUTO, "::", True), (AuthMode.AUTO, "192.168.1.20", True),
    (AuthMode.AUTO, "docflow.example.com", True), (AuthMode.REQUIRED, "127.0.0.1", True),
    (AuthMode.OFF, "0.0.0.0", False)])
def test_each_mode_and_listen_address(settings: Settings, mode: AuthMode, host: str,
                                      needs_credentials: bool) -> None:
    settings.auth, settings.listen_host = mode, host
    with open_client(settings) as api:
        reply = api.get("/api/documents")
    assert reply.status_code == (401 if needs_credentials else 200)
    assert credentials_required(settings) is needs_credentials


def test_auto_closes_when_a_request_arrives_on_a_public_address(settings: Settings) -> None:
    # Started by hand (uvicorn --host 0.0.0.0) without DOCFLOW_LISTEN_HOST: the socket the
    # request came in on still shows the server is reachable from elsewhere.
    with open_client(settings, base_url="http://10.1.2.3") as api:
        assert api.get("/api/documents").status_code == 401
    with open_client(settings, base_url="http://127.0.0.1:8000") as api:
        assert api.get("/api/documents").status_code == 200


def test_loopback_and_trusted_proxy_rules(settings: Settings) -> None:
    assert is_loopback("127.0.0.5") and is_loopback("[::1]") and not is_loopback("")
    settings.auth_trusted_proxies = "10.0.0.0/8, 192.168.1.1"
    assert trusted_proxy(settings, "10.9.9.9") and trusted_proxy(settings, "192.168.1.1")
    assert not trusted_proxy(settings, "192.168.1.2") and not trusted_proxy(settings, None)


def test_serve_refuses_a_public_address_without_credentials(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    with caplog.at_level(logging.ERROR):
        assert run_serve(settings, "0.0.0.0", port, 1) == 2
    message = caplog.text
    assert "docflow token create --scope admin" in message
    assert "DOCFLOW_AUTH=off" in message
    assert not settings.broker_url_file.exists()  # refused before anything started


def test_the_serve_command_exits_2_and_says_how_to_make_a_token(settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port",
                                      str(free_port()), "--data-dir",
                                      str(settings.data_dir)])
    assert result.exit_code == 2
    log = (settings.resolved_data_dir / "logs" / "serve.log").read_text()
    assert re.search(r"docflow token create --scope admin", log)


def test_a_token_a_user_or_a_bootstrap_token_lets_serve_start(settings: Settings) -> None:
    public = settings.model_copy(update={"listen_host": "0.0.0.0"})
    store = open_store(public, migrate=True)
    try:
        assert not credentials_ready(store.db, public)
        with_bootstrap = public.model_copy(update={"bootstrap_token": SecretStr("k" * 32)})
        assert credentials_ready(store.db, with_bootstrap)
        placeholder = public.model_copy(update={"bootstrap_token": SecretStr("change-me" * 5)})
        assert not credentials_ready(store.db, placeholder)
    finally:
        store.db.dispose()
    fresh = Settings(data_dir=settings.data_dir / "other", listen_host="0.0.0.0")
    store = open_store(fresh, migrate=True)
    try:
        assert not credentials_ready(store.db, fresh)
        with store.db.write() as session:
            create_token(session, Scope.READ, name="r")
        assert credentials_ready(store.db, fresh)
        assert credentials_ready(store.db, settings.model_copy(update={"auth": AuthMode.OFF,
                                                                       "listen_host": "::"}))
    finally:
        store.db.dispose()


def test_an_open_server_ignores_a_wrong_token_and_names_a_right_one(
        settings: Settings, store_token: str) -> None:
    with open_client(settings) as api:
        assert api.get("/api/documents", headers={"Authorization": "Bearer stale"}
                       ).status_code == 200
        me = api.get("/api/auth/me", headers={"Authorization": f"Bearer {store_token}"}).json()
        assert (me["kind"], me["name"], me["credentials_required"]) == ("token", "ci", False)


def test_an_open_server_refuses_changes_from_other_web_sites(settings: Settings) -> None:
    upload = {"file": ("a.txt", b"hi")}
    with open_client(settings, base_url="http://127.0.0.1:8000") as api:
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            reply = api.post("/api/upload", files=upload, headers=headers)
            assert (reply.status_code, reply.json()["code"]) == (403, "cross_site"), headers
        assert api.get("/api/documents", headers={"Origin": "https://evil.example"}
                       ).status_code == 200  # reads are the same-origin policy's business
        same = api.post("/api/upload", files=upload, headers={"Origin": "http://127.0.0.1:8000",
                                                              "Sec-Fetch-Site": "same-origin"})
        assert same.status_code == 202
        assert api.post("/api/upload", files=upload).status_code == 202  # scripts, curl


@pytest.fixture
def store_token(settings: Settings) -> str:
    store = open_store(settings, migrate=True)
    try:
        with store.db.write() as session:
            return create_token(session, Scope.READ, name="ci").token
    finally:
        store.db.dispose()


def test_serve_tells_the_api_where_it_listens(settings: Settings,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    public = settings.model_copy(update={"listen_host": "0.0.0.0"})
    env = child_env(public, "redis://127.0.0.1:1/0")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert Settings().listen_host == "0.0.0.0" and credentials_required(Settings())
