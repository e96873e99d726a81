"""Browser tests: Debian's chromium driven by Playwright, against the real app in prod mode.

One app (frontend built once) serves every browser test of the session.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.support.server import ARTIFACTS, AppServer, fresh_database_url

CHROMIUM = "/usr/bin/chromium"
ADMIN_EMAIL = "admin@example.com"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def web_server(tmp_path_factory):
    db_url = fresh_database_url(tmp_path_factory.mktemp("web-db"))
    # Engine.io keeps a closed tab's ping task asleep until its next ping falls due: a
    # short interval lets "closed tabs leave nothing behind" see them go within its wait.
    env = {"NOTIFIER_TOAST_SECONDS": "4", "NOTIFIER_ADMIN_EMAILS": ADMIN_EMAIL, "REFLEX_SOCKET_INTERVAL": "5"}
    with AppServer(db_url=db_url, backend_only=False, name="web", env=env) as server:
        yield server
    assert "Traceback" not in server.log_text(), server.log_tail(80)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser, web_server):
    """Factory for isolated browser contexts (one per simulated user); closed after the test."""
    contexts = []

    def make(token: str | None = None):
        context = browser.new_context(base_url=web_server.url, viewport={"width": 1280, "height": 800}, locale="ko-KR")
        context.set_default_timeout(15_000)
        if token:
            context.add_cookies([{"name": "access_token", "value": token, "url": web_server.url, "httpOnly": True, "sameSite": "Lax"}])
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
