"""Issue 5: with Redis, a post made through one backend process toasts in a browser served by another."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.support.client import create_post, signup
from tests.support.project_copy import copy_project
from tests.support.redis_server import RedisServer
from tests.support.server import AppServer, fresh_database_url


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with RedisServer() as redis_server:
        db_url = fresh_database_url(tmp_path_factory.mktemp("cluster-db"))
        env = {"REFLEX_REDIS_URL": redis_server.url, "GRANIAN_WORKERS": "1", "NOTIFIER_TOAST_SECONDS": "30"}
        project = copy_project(tmp_path_factory.mktemp("cluster-project") / "notifier")
        web = AppServer(db_url=db_url, backend_only=False, env=env, name="cluster-web", project_dir=project)
        api = AppServer(db_url=db_url, env=env, name="cluster-api")
        with web, api:
            yield web, api
        for server in (web, api):
            assert "Traceback" not in server.log_text(), server.log_tail(60)


def test_toast_from_a_post_made_on_another_worker(browser, cluster):
    web, api = cluster
    alice, bob = signup(api.url, "alice"), signup(api.url, "bob")
    context = browser.new_context(base_url=web.url)
    context.add_cookies([{"name": "access_token", "value": alice.token, "url": web.url, "httpOnly": True, "sameSite": "Lax"}])
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.goto("/")
        expect(page.locator("#connection-dot")).to_have_attribute("data-status", "connected")

        started = time.monotonic()
        create_post(api.url, bob, title="다른 워커에서 쓴 글")
        toast = page.locator("#toaster .notifier-toast")
        expect(toast.first.locator(".toast-message")).to_have_text('bob님이 "다른 워커에서 쓴 글" 글을 작성했어요.')
        print(f"\npost on worker 2 -> toast from worker 1: {(time.monotonic() - started) * 1000:.0f} ms")

        create_post(web.url, bob, title="같은 워커에서 쓴 글")
        expect(toast).to_have_count(2)
        expect(toast.first.locator(".toast-message")).to_contain_text("같은 워커에서 쓴 글")
    finally:
        context.close()
