"""A real browser for the admin tests: Playwright driving Debian's Chromium (browsers cannot be
downloaded here), headless, one page per test, a screenshot kept on failure under
var/browser-failures/. Without Chromium or Playwright the browser tests are skipped, unless
CLEAVE_BROWSER_REQUIRED=1 (as in .ci/run), where a missing browser fails them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from cleave.testing.processes import ROOT

FAILURES = ROOT / "var" / "browser-failures"


def _chromium() -> str | None:
    return os.environ.get("CLEAVE_CHROMIUM") or shutil.which("chromium")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_OUTCOME] = report
    return report


_OUTCOME = pytest.StashKey[pytest.TestReport]()


@pytest.fixture
def page(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh headless Chromium per test (about a second to start), so that the setting below
    lives only as long as the browser does."""
    chromium = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        if os.environ.get("CLEAVE_BROWSER_REQUIRED") == "1":
            pytest.fail("CLEAVE_BROWSER_REQUIRED=1 but Chromium or Playwright is missing")
        pytest.skip("needs Debian's chromium and the playwright package (see docs/operations.md)")
    # Playwright's sync API keeps an asyncio loop on this thread; Django refuses database work
    # on a thread with a running loop unless told the code is synchronous, as ours is.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        yield page
        report = request.node.stash.get(_OUTCOME, None)
        if report is not None and report.failed:
            FAILURES.mkdir(parents=True, exist_ok=True)
            shot = FAILURES / f"{request.node.name}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failure: {shot.relative_to(ROOT)}")  # noqa: T201
        browser.close()
