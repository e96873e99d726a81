"""Issue 6 in the browser: live comments, the new-posts bar, a two-user chat, admin notices
with their look, and the system dashboard."""

from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, screenshot
from tests.support.client import Account, create_comment, create_post, signup

TOAST = "#toaster .notifier-toast"


def admin_account(url: str) -> Account:
    r = httpx.post(f"{url}/api/auth/login", json={"email": ADMIN_EMAIL, "password": "admin-password"})
    if r.status_code != 200:
        r = httpx.post(f"{url}/api/auth/signup", json={"email": ADMIN_EMAIL, "nickname": "admin", "password": "admin-password"})
    body = r.json()
    assert body["user"]["role"] == "admin", body
    return Account(id=body["user"]["id"], email=ADMIN_EMAIL, nickname="admin", token=body["token"])


def logged_in_page(new_context, who, path: str):
    page = new_context(who.token).new_page()
    page.goto(path)
    expect(page.locator("#connection-dot")).to_have_attribute("data-status", "connected")
    return page


def test_comments_appear_live_on_the_post_page(new_context, web_server):
    """In every tab that shows the post (the tabs re-read it together: pages/post.py)."""
    url = web_server.url
    alice, bob, carol = signup(url, "alice"), signup(url, "bob"), signup(url, "carol")
    post = create_post(url, alice, title="실시간 댓글")
    pages = [logged_in_page(new_context, who, f"/posts/{post['id']}") for who in (alice, carol)]
    for page in pages:
        expect(page.locator("#comment-count")).to_have_text("댓글 0")

    comment = create_comment(url, bob, post["id"], "새로고침 없이 보여요")
    for page in pages:
        expect(page.locator(f"#comment-{comment['id']} .comment-content")).to_have_text("새로고침 없이 보여요")
        expect(page.locator("#comment-count")).to_have_text("댓글 1")


def test_feed_shows_a_new_posts_bar(new_context, web_server):
    url = web_server.url
    alice, bob = signup(url, "alice"), signup(url, "bob")
    page = logged_in_page(new_context, alice, "/")
    expect(page.locator("#new-posts-bar")).to_have_count(0)

    create_post(url, bob, title="바 테스트 1")
    create_post(url, bob, title="바 테스트 2")
    bar = page.locator("#new-posts-bar")
    expect(bar).to_have_text(re.compile(r"새 글 2개 보기"))
    bar.click()
    expect(bar).to_have_count(0)
    expect(page.locator(".post-title").first).to_have_text("바 테스트 2")


def test_two_users_chat(new_context, web_server):
    url = web_server.url
    alice, bob = signup(url, "alice"), signup(url, "bob")
    room = f"room-{time.monotonic_ns()}"
    page_a = logged_in_page(new_context, alice, f"/chat?room={room}")
    page_b = logged_in_page(new_context, bob, f"/chat?room={room}")
    expect(page_a.locator("#room-title")).to_have_text(f"# {room}")

    page_a.locator("#chat-input").fill("안녕하세요, bob!")
    page_a.locator("#chat-send").click()
    expect(page_b.locator(".chat-text").last).to_have_text("안녕하세요, bob!")
    expect(page_a.locator(".chat-text").last).to_have_text("안녕하세요, bob!")
    expect(page_a.locator("#chat-input")).to_have_value("")

    page_b.locator("#chat-input").fill("반가워요 alice")
    page_b.locator("#chat-send").click()
    expect(page_a.locator(".chat-text").last).to_have_text("반가워요 alice")
    expect(page_a.locator(".chat-message")).to_have_count(2)
    screenshot(page_a, "chat")

    # History is replayed on join.
    page_c = logged_in_page(new_context, signup(url, "carol"), f"/chat?room={room}")
    expect(page_c.locator(".chat-message")).to_have_count(2)


def test_admin_notice_toasts_with_its_level(new_context, web_server):
    url = web_server.url
    admin, alice = admin_account(url), signup(url, "alice")
    page = logged_in_page(new_context, alice, "/")
    r = httpx.post(
        f"{url}/notifications/send",
        json={"title": "점검 안내", "message": "오늘 밤 10시에 점검해요.", "level": "warning", "userIds": [alice.id]},
        headers=admin.headers,
    )
    assert r.status_code == 202, r.text
    toast = page.locator(TOAST).first
    expect(toast.locator(".toast-title")).to_have_text("점검 안내")
    expect(toast).to_have_attribute("data-level", "warning")
    screenshot(page, "notice-toast")


def test_system_dashboard_shows_live_numbers(new_context, web_server):
    url = web_server.url
    admin, alice = admin_account(url), signup(url, "alice")
    logged_in_page(new_context, alice, "/")  # one more live connection to count
    page = logged_in_page(new_context, admin, "/system")
    expect(page.locator("#stat-connections")).not_to_have_text("0")
    expect(page.locator("#stat-users")).not_to_have_text("0")
    for n in range(5):
        httpx.post(f"{url}/chat/send", json={"roomId": "general", "message": f"부하 {n}"}, headers=admin.headers)
    expect(page.locator("#stat-uptime")).not_to_have_text("0")
    expect(page.locator("#system-chart")).to_be_visible()
    expect(page.locator("#system-chart .recharts-line").first).to_be_visible()
    screenshot(page, "system-dashboard")

    normal = logged_in_page(new_context, alice, "/system")
    expect(normal.locator("#admin-only")).to_be_visible()
