"""Issue 2: login and logout also work under `reflex run` (dev), frontend and backend on two ports."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.client import signup
from tests.support.server import AppServer, fresh_database_url


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    with AppServer(db_url=fresh_database_url(tmp_path_factory.mktemp("dev-db")), dev=True, name="dev") as server:
        yield server


def test_login_and_logout_across_ports(browser, dev_server):
    account = signup(dev_server.api_url, "dave", password="dave-password")
    context = browser.new_context(base_url=dev_server.url)
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        page.goto("/login")
        page.locator("#login-email").fill(account.email)
        page.locator("#login-password").fill("dave-password")
        page.locator("#login-submit").click()
        expect(page).to_have_url(re.compile(rf"^{re.escape(dev_server.url)}/?$"))
        expect(page.locator("#nav-nickname")).to_have_text("dave")
        expect(page.locator("#connection-dot")).to_have_attribute("data-status", "connected")

        page.locator("#logout").click()
        expect(page).to_have_url(re.compile(r"/login"))
        expect(page.locator("#nav-login")).to_be_visible()
    finally:
        context.close()
