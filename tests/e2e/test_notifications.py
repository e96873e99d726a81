"""Issue 4: notifications in the browser — store, stream, toaster, bell and inbox."""

from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.support.client import create_comment, create_post, signup, wait_until

TOAST = "#toaster .notifier-toast"


def open_feed(new_context, who, path: str = "/"):
    page = new_context(who.token).new_page()
    page.goto(path)
    expect(page.locator("#connection-dot")).to_have_attribute("data-status", "connected")
    return page


def test_post_toast_reaches_others_not_author(new_context, web_server):
    url = web_server.url
    alice, bob = signup(url, "alice"), signup(url, "bob")
    page_a, page_b = open_feed(new_context, alice), open_feed(new_context, bob)

    started = time.monotonic()
    post = create_post(url, bob, title="실시간 알림 테스트")
    toast = page_a.locator(TOAST).first
    expect(toast).to_be_visible()
    elapsed_ms = (time.monotonic() - started) * 1000
    print(f"\npost by B -> toast at A: {elapsed_ms:.0f} ms")

    expect(toast.locator(".toast-title")).to_have_text("새 게시글")
    expect(toast.locator(".toast-message")).to_have_text('bob님이 "실시간 알림 테스트" 글을 작성했어요.')
    expect(toast.locator(".toast-link")).to_have_text("바로가기")
    expect(toast.locator(".toast-link")).to_have_attribute("href", f"/posts/{post['id']}")
    expect(toast.get_by_role("button", name="알림 닫기")).to_be_visible()
    expect(page_a.locator("#toaster")).to_have_attribute("role", "status")
    expect(page_a.locator("#toaster")).to_have_attribute("aria-live", "polite")
    page_b.wait_for_timeout(500)  # a bounded window in which B must see nothing
    expect(page_b.locator(TOAST)).to_have_count(0)
    screenshot(page_a, "feed-with-toast")


def test_comment_toast_goes_to_post_author_and_links_to_comment(new_context, web_server):
    url = web_server.url
    alice, bob = signup(url, "alice"), signup(url, "bob")
    post = create_post(url, bob, title="댓글 받을 글", body="\n".join(["긴 본문"] * 80))
    page_a, page_b = open_feed(new_context, alice), open_feed(new_context, bob)

    content = "정말 좋은 글이에요! " * 6
    comment = create_comment(url, alice, post["id"], content)
    toast = page_b.locator(TOAST).first
    expect(toast.locator(".toast-title")).to_have_text("새 댓글")
    expect(toast.locator(".toast-message")).to_have_text(f"alice님: {content[:50]}")
    page_a.wait_for_timeout(500)
    expect(page_a.locator(TOAST)).to_have_count(0)

    toast.locator(".toast-link").click()
    expect(page_b).to_have_url(re.compile(rf"/posts/{post['id']}#comment-{comment['id']}$"))
    target = page_b.locator(f"#comment-{comment['id']}")
    expect(target).to_be_in_viewport()


def test_three_tabs_close_button_auto_dismiss_and_cap(new_context, web_server):
    url = web_server.url
    alice, bob = signup(url, "alice"), signup(url, "bob")
    context = new_context(alice.token)
    tabs = []
    for _ in range(3):
        tab = context.new_page()
        tab.goto("/")
        expect(tab.locator("#connection-dot")).to_have_attribute("data-status", "connected")
        tabs.append(tab)

    create_post(url, bob, title="세 탭 모두")
    for tab in tabs:
        expect(tab.locator(TOAST)).to_have_count(1)

    tabs[0].get_by_role("button", name="알림 닫기").click()
    expect(tabs[0].locator(TOAST)).to_have_count(0)
    # Not clicked: gone by itself after NOTIFIER_TOAST_SECONDS (4 s in these tests).
    expect(tabs[1].locator(TOAST)).to_have_count(0, timeout=8_000)

    for n in range(12):
        create_post(url, bob, title=f"연속 글 {n}")
    expect(tabs[2].locator(TOAST).first.locator(".toast-message")).to_contain_text("연속 글 11")
    expect(tabs[2].locator(TOAST)).to_have_count(10)


def test_unread_badge_and_inbox(new_context, web_server):
    url = web_server.url
    alice, bob = signup(url, "alice"), signup(url, "bob")
    page = open_feed(new_context, alice)
    badge = page.locator("#unread-badge")
    expect(badge).to_have_count(0)

    create_post(url, bob, title="첫 번째")
    expect(badge).to_have_text("1")
    create_post(url, bob, title="두 번째")
    expect(badge).to_have_text("2")
    create_post(url, bob, title="세 번째")
    expect(badge).to_have_text("3")

    page.locator("#bell").click()
    expect(page).to_have_url(re.compile(r"/notifications$"))
    items = page.locator(".inbox-item")
    expect(items).to_have_count(3)
    expect(items.first).to_contain_text("세 번째")  # newest first
    screenshot(page, "inbox")

    items.first.locator(".mark-read").click()
    expect(badge).to_have_text("2")
    expect(items.first).to_have_attribute("data-read", "true")
    page.locator("#mark-all-read").click()
    expect(badge).to_have_count(0)
    expect(page.locator(".inbox-item[data-read='false']")).to_have_count(0)

    api = httpx.get(f"{url}/api/notifications", headers=alice.headers).json()
    assert api["unreadCount"] == 0 and len(api["items"]) == 3


def test_reading_in_one_tab_updates_the_badge_in_every_tab_and_device(new_context, web_server):
    url = web_server.url
    alice, bob = signup(url, "alice"), signup(url, "bob")
    laptop = new_context(alice.token)
    inbox_tab, feed_tab = laptop.new_page(), laptop.new_page()
    for tab, path in ((inbox_tab, "/notifications"), (feed_tab, "/")):
        tab.goto(path)
        expect(tab.locator("#connection-dot")).to_have_attribute("data-status", "connected")
    phone = open_feed(new_context, alice)  # another browser: another device
    for n in range(3):
        create_post(url, bob, title=f"읽음 동기화 {n}")
    for tab in (inbox_tab, feed_tab, phone):
        expect(tab.locator("#unread-badge")).to_have_text("3")

    inbox_tab.reload()
    inbox_tab.locator(".inbox-item").first.locator(".mark-read").click()
    for tab in (inbox_tab, feed_tab, phone):
        expect(tab.locator("#unread-badge")).to_have_text("2")
    # Through the API (another client): the tabs hear of it too.
    assert httpx.post(f"{url}/api/notifications/read-all", headers=alice.headers).status_code == 204
    for tab in (inbox_tab, feed_tab, phone):
        expect(tab.locator("#unread-badge")).to_have_count(0)


def test_logout_clears_toasts_and_stops_stream(new_context, web_server):
    url = web_server.url
    alice, bob = signup(url, "alice"), signup(url, "bob")
    page = open_feed(new_context, alice)
    create_post(url, bob, title="로그아웃 전")
    expect(page.locator(TOAST)).to_have_count(1)

    page.locator("#logout").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator(TOAST)).to_have_count(0)
    expect(page.locator("#connection-dot")).to_have_count(0)

    create_post(url, bob, title="로그아웃 후")
    page.wait_for_timeout(1000)
    expect(page.locator(TOAST)).to_have_count(0)


def test_closed_tabs_leave_nothing_behind(new_context, web_server):
    url = web_server.url
    alice = signup(url, "alice")

    def status():
        return httpx.get(f"{url}/system/status").json()

    baseline = status()
    context = new_context(alice.token)
    for _ in range(8):
        tab = context.new_page()
        tab.goto("/")
        expect(tab.locator("#connection-dot")).to_have_attribute("data-status", "connected")
        tab.close()
    seen = []

    def back_to_baseline():
        seen.append(status())
        return seen[-1]["connections"] <= baseline["connections"] and seen[-1]["tasks"] <= baseline["tasks"]

    wait_until(back_to_baseline, timeout=20, interval=0.25, message=lambda: f"baseline {baseline}; last {seen[-1:]}")
    assert "Attempting to send delta to disconnected client" not in web_server.log_text()


def test_backend_restart_replays_what_was_missed(new_context, web_server):
    url = web_server.url
    alice, bob = signup(url, "alice"), signup(url, "bob")
    page = open_feed(new_context, alice)
    create_post(url, bob, title="재시작 전")
    expect(page.locator(TOAST)).to_have_count(1)
    page.get_by_role("button", name="알림 닫기").click()
    expect(page.locator(TOAST)).to_have_count(0)

    web_server.stop()
    expect(page.locator("#connection-dot")).to_have_attribute("data-status", "reconnecting", timeout=20_000)
    web_server.start()
    # Published the moment the API answers, before the page has re-subscribed.
    create_post(url, bob, title="재시작 직후")

    expect(page.locator("#connection-dot")).to_have_attribute("data-status", "connected", timeout=30_000)
    toast = page.locator(TOAST)
    expect(toast).to_have_count(1)
    expect(toast.first.locator(".toast-message")).to_contain_text("재시작 직후")
    page.wait_for_timeout(1000)  # a duplicate would show up within this window
    expect(toast).to_have_count(1)


def test_browser_eventsource_with_the_session_cookie(new_context, web_server):
    """docs/streams.md's EventSource example, in a real browser, authenticated by the cookie."""
    url = web_server.url
    alice, bob = signup(url, "alice"), signup(url, "bob")
    page = new_context(alice.token).new_page()
    page.goto("/")
    page.evaluate(
        """() => {
            window.received = [];
            const source = new EventSource("/notifications/stream", { withCredentials: true });
            source.onmessage = (e) => window.received.push({ id: e.lastEventId, event: JSON.parse(e.data) });
            return new Promise((resolve) => { source.onopen = resolve; });
        }"""
    )
    create_post(url, bob, title="EventSource로 받기")
    page.wait_for_function("() => window.received.length > 0")
    received = page.evaluate("() => window.received")
    assert received[0]["event"]["message"] == 'bob님이 "EventSource로 받기" 글을 작성했어요.'
    assert received[0]["id"].isdigit()
