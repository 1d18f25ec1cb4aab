"""/docs and /redoc work on a machine without internet: every script and style they load is
served by docflow itself, without credentials."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.config import AuthMode, Settings
from docflow.store import Store

URL_ATTRIBUTE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
URL_IN_SCRIPT = re.compile(r"""\burl\s*:\s*['"]([^'"]+)['"]""")


def _urls(html: str) -> list[str]:
    return URL_ATTRIBUTE.findall(html) + URL_IN_SCRIPT.findall(html)


@pytest.fixture
def secured_api(settings: Settings, store: Store) -> Iterator[TestClient]:
    settings.auth = AuthMode.REQUIRED
    with TestClient(create_app(settings, configure_logs=False)) as client:
        yield client


@pytest.mark.parametrize("page, kinds", [
    ("/docs", {"javascript", "css"}),
    ("/redoc", {"javascript"}),
])
def test_the_api_docs_load_only_what_docflow_serves(
        secured_api: TestClient, page: str, kinds: set[str]) -> None:
    reply = secured_api.get(page)  # no credentials: the docs are public
    assert reply.status_code == 200
    urls = [u for u in _urls(reply.text) if not u.startswith("data:")]
    assert urls, reply.text
    remote = [u for u in urls if re.match(r"^(https?:)?//", u)]
    assert remote == [], f"{page} loads from elsewhere: {remote}"
    served = set()
    for url in urls:
        asset = secured_api.get(url)
        assert asset.status_code == 200, url
        if url.endswith(".js"):
            assert "javascript" in asset.headers["content-type"], url
            assert len(asset.content) > 100_000, url  # the real bundle, not a stub
            served.add("javascript")
        elif url.endswith(".css"):
            assert "text/css" in asset.headers["content-type"], url
            served.add("css")
    assert served == kinds
    assert secured_api.get("/openapi.json").status_code == 200


def test_the_oauth2_redirect_page_stays_public(secured_api: TestClient) -> None:
    assert secured_api.get("/docs/oauth2-redirect").status_code == 200
