"""Issue 2: a person signs up, logs out and in, writes a post, sees it on the feed, comments."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot


def test_signup_login_post_comment(new_context, web_server):
    page = new_context().new_page()
    stamp = time.monotonic_ns()
    email, nickname, password = f"carol{stamp}@example.com", "carol", "carol-password"

    page.goto("/signup")
    page.locator("#signup-email").fill(email)
    page.locator("#signup-nickname").fill(nickname)
    page.locator("#signup-password").fill(password)
    page.locator("#signup-submit").click()
    expect(page.locator("#nav-nickname")).to_have_text(nickname)

    page.locator("#logout").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("#nav-login")).to_be_visible()

    page.locator("#login-email").fill(email)
    page.locator("#login-password").fill("wrong-password")
    page.locator("#login-submit").click()
    expect(page.get_by_role("alert")).to_contain_text("올바르지 않아요")

    page.locator("#login-password").fill(password)
    page.locator("#login-submit").click()
    expect(page.locator("#nav-nickname")).to_have_text(nickname)

    title = f"<img src=x onerror=alert(1)> 첫 글 {stamp}"
    page.locator("#nav-write").click()
    page.locator("#post-title-input").fill(title)
    page.locator("#post-body-input").fill("브라우저에서 쓴 글이에요.")
    page.locator("#post-submit").click()
    expect(page.locator("#post-title")).to_have_text(title)  # rendered as text, not as HTML

    page.goto("/")
    expect(page.locator(".post-title").first).to_have_text(title)

    page.locator(".post-card").first.click()
    page.locator("#comment-content").fill("좋은 글이네요!")
    page.locator("#comment-submit").click()
    comment = page.locator(".comment").last
    expect(comment.locator(".comment-content")).to_have_text("좋은 글이네요!")
    expect(comment).to_have_attribute("id", re.compile(r"^comment-\d+$"))
    expect(page.locator("#comment-content")).to_have_value("")
    screenshot(page, "blog-post-with-comment")
