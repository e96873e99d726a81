"""Issue 5: the split deploy of docs/deploy.md — the exported static frontend on a plain
static server, the backend alone (`reflex run --env prod --backend-only`), the frontend
pointed at the backend by REFLEX_API_URL at export time — and a toast still arrives.

Both servers are on 127.0.0.1 on different ports: different origins (so CORS must allow
the static one), the same site (so the SameSite=Lax session cookie of the backend's host
goes along with the page's websocket and form posts).
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.support.client import create_post, signup
from tests.support.export import export_frontend
from tests.support.server import PROJECT_DIR, AppServer, fresh_database_url
from tests.support.static_site import StaticSite

TOAST = "#toaster .notifier-toast"


@pytest.fixture(scope="module")
def split_deploy(tmp_path_factory):
    """(static site, backend): exported frontend served statically, backend-only server."""
    workdir = tmp_path_factory.mktemp("split-deploy")
    zips_before = {p.name for p in PROJECT_DIR.glob("*.zip")}
    backend = AppServer(db_url=fresh_database_url(workdir), backend_only=True, name="split-backend")
    with StaticSite(workdir / "site") as site:
        backend.extra_env.update(
            # The page (static origin) calls the backend: the backend must allow that origin,
            # and its form posts redirect back there.
            REFLEX_CORS_ALLOWED_ORIGINS=f"{site.url},{backend.url}",
            REFLEX_DEPLOY_URL=site.url,
        )
        export_frontend(workdir, api_url=backend.url, deploy_url=site.url)
        assert {p.name for p in PROJECT_DIR.glob("*.zip")} == zips_before, "the export must not write into the repo"
        with backend:
            yield site, backend
    assert "Traceback" not in backend.log_text(), backend.log_tail(80)


def test_the_static_host_serves_the_export_pointed_at_the_backend(split_deploy):
    site, backend = split_deploy
    home = httpx.get(site.url + "/")
    assert home.status_code == 200 and "<html" in home.text.lower()
    assert httpx.get(site.url + "/login").status_code == 200  # prerendered: login.html
    deep = httpx.get(site.url + "/posts/12345")  # dynamic route: no file, the SPA fallback
    assert deep.status_code == 404 and deep.text == (site.root / "404.html").read_text()
    baked = "\n".join(p.read_text(errors="replace") for p in site.root.glob("assets/*.js"))
    assert f"{backend.url.replace('http', 'ws')}/_event" in baked, "REFLEX_API_URL is baked in at export time"

    preflight = httpx.options(
        backend.url + "/api/posts",
        headers={"Origin": site.url, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers.get("access-control-allow-origin") == site.url
    assert preflight.headers.get("access-control-allow-credentials") == "true"


def test_toast_arrives_on_the_static_frontend(browser, split_deploy):
    site, backend = split_deploy
    alice, bob = signup(backend.url, "alice"), signup(backend.url, "bob")
    signup_carol = signup(backend.url, "carol", password="carol-password")
    contexts = []

    def context(token: str | None = None):
        ctx = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 800}, locale="ko-KR")
        ctx.set_default_timeout(20_000)
        if token:  # the session cookie lives on the backend's host (127.0.0.1: the static host too)
            ctx.add_cookies([{"name": "access_token", "value": token, "url": backend.url, "httpOnly": True, "sameSite": "Lax"}])
        contexts.append(ctx)
        return ctx

    try:
        # alice: already logged in (cookie), opens a deep link served by the SPA fallback.
        old = create_post(backend.url, bob, title="정적 호스트의 글")
        page_a = context(alice.token).new_page()
        page_a.goto(f"/posts/{old['id']}")
        expect(page_a.locator("#post-title")).to_have_text("정적 호스트의 글")
        expect(page_a.locator("#nav-nickname")).to_have_text("alice")
        expect(page_a.locator("#connection-dot")).to_have_attribute("data-status", "connected")

        # carol: logs in through the form; the backend sets the cookie and sends her back here.
        page_c = context().new_page()
        page_c.goto("/login")
        page_c.locator("#login-email").fill(signup_carol.email)
        page_c.locator("#login-password").fill("carol-password")
        page_c.locator("#login-submit").click()
        expect(page_c).to_have_url(re.compile(rf"^{re.escape(site.url)}/?$"))
        expect(page_c.locator("#nav-nickname")).to_have_text("carol")
        expect(page_c.locator("#connection-dot")).to_have_attribute("data-status", "connected")

        post = create_post(backend.url, bob, title="분리 배포 알림")
        for page in (page_a, page_c):
            toast = page.locator(TOAST).first
            expect(toast.locator(".toast-title")).to_have_text("새 게시글")
            expect(toast.locator(".toast-message")).to_have_text('bob님이 "분리 배포 알림" 글을 작성했어요.')
            expect(toast.locator(".toast-link")).to_have_attribute("href", f"/posts/{post['id']}")
        screenshot(page_a, "split-deploy-toast")

        page_a.locator(TOAST).first.locator(".toast-link").click()
        expect(page_a).to_have_url(f"{site.url}/posts/{post['id']}")
        expect(page_a.locator("#post-title")).to_have_text("분리 배포 알림")
    finally:
        for ctx in contexts:
            ctx.close()
