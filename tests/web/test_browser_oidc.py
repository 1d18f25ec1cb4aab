"""In the browser: the login page offers the OpenID provider, and its login ends in the web app
logged in (the provider is the real one the OIDC tests make, over HTTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from docflow.auth.scopes import Scope
from docflow.auth.users import create_user
from docflow.config import AuthMode, Settings
from docflow.store import open_store
from tests.auth.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from tests.web.conftest import open_page
from tests.web.live import Server
from tests.web.test_browser import _shot

pytestmark = pytest.mark.e2e
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def with_sso(settings: Settings) -> Iterator[Server]:
    provider = Provider().start()
    settings.auth = AuthMode.REQUIRED
    settings.oidc_issuer, settings.oidc_client_id = provider.issuer, CLIENT_ID
    settings.oidc_client_secret, settings.oidc_name = SecretStr(CLIENT_SECRET), "Test SSO"
    store = open_store(settings, migrate=True)
    with store.db.write() as session:
        create_user(session, "ann@example.com", "a password never used", Scope.UPLOAD)
    store.db.dispose()
    server = Server(settings)
    yield server
    server.stop()
    provider.stop()


def test_log_in_with_the_provider_from_the_login_page(with_sso: Server, browser: object) -> None:
    expect = playwright.expect
    page, errors = open_page(browser)

    page.goto(f"{with_sso.url}/#/workers")
    expect(page.locator("h1")).to_have_text("Log in to docflow")
    sso = page.get_by_role("link", name="Log in with Test SSO")
    expect(sso).to_be_visible()
    _shot(page, "login-sso-1280")
    sso.click()  # to the provider, which sends the browser straight back
    expect(page.locator("#who")).to_contain_text("ann@example.com (upload)")
    assert page.url.rstrip("/") == with_sso.url
    assert errors == []
