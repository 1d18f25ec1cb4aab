"""The web app is served from the package: the page, its assets with the right types, and
nothing that reaches outside the server."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.api.web import STATIC
from docflow.config import AuthMode, Settings

ASSETS = sorted(p for p in STATIC.rglob("*") if p.is_file())


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, configure_logs=False)) as c:
        yield c


def test_the_root_serves_the_web_app_page(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/assets/js/app.js">' in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]


@pytest.mark.parametrize("path", [p.relative_to(STATIC).as_posix() for p in ASSETS])
def test_each_asset_is_served_with_its_type(client: TestClient, path: str) -> None:
    r = client.get(f"/assets/{path}")
    assert r.status_code == 200, path
    expected = {"js": "text/javascript", "css": "text/css", "html": "text/html"}[
        path.rsplit(".", 1)[1]]
    assert r.headers["content-type"].startswith(expected)


def test_every_module_the_page_imports_is_there(client: TestClient) -> None:
    for js in STATIC.rglob("*.js"):
        for target in re.findall(r'from "(\.{1,2}/[^"]+)"', js.read_text()):
            resolved = (js.parent / target).resolve()
            assert resolved.is_file(), f"{js.name} imports {target}, which is missing"


def test_no_asset_loads_anything_from_another_site() -> None:
    assert ASSETS, "the package holds no web assets"
    offenders = [p.name for p in ASSETS if re.search(r"https?://", p.read_text())]
    assert offenders == []


def test_paths_outside_the_assets_are_refused(client: TestClient) -> None:
    for path in ("../__init__.py", "..%2F__init__.py", "js/../../__init__.py", "nope.js"):
        assert client.get(f"/assets/{path}").status_code == 404, path


def test_the_page_and_assets_need_no_login_while_the_api_does(settings: Settings) -> None:
    settings.auth = AuthMode.REQUIRED
    with TestClient(create_app(settings, configure_logs=False)) as c:
        assert c.get("/").status_code == 200
        assert c.get("/assets/js/app.js").status_code == 200
        assert c.get("/api/overview").status_code == 401
        assert c.get("/api/events").status_code == 401
