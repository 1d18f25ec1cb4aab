"""What the browser tests share: Debian's chromium, driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest


@pytest.fixture
def browser() -> Iterator[object]:
    """A headless chromium (scripts/ensure-chromium.sh installs it; skipped without it)."""
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (scripts/ensure-chromium.sh installs it)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield b
        b.close()


def open_page(browser: object, width: int = 1280) -> tuple[object, list[str]]:
    """A new page `width` pixels wide, and the script errors it will have (a test ends by
    checking there were none)."""
    page = browser.new_page(viewport={"width": width, "height": 900})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors
