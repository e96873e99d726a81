"""Findings from review: NUL in text, cross-site form posts, the fresh-connect window."""

from __future__ import annotations

import threading

import httpx

from tests.support.client import create_post, open_stream, signup


def test_nul_characters_are_refused_not_stored(base_url):
    alice = signup(base_url, "alice")
    r = httpx.post(f"{base_url}/api/posts", json={"title": "a\x00b", "body": ""}, headers=alice.headers)
    assert r.status_code == 422 and "NUL" in str(r.json()["detail"])


def test_cross_site_form_login_is_refused(base_url):
    alice = signup(base_url, "alice", password="password-123")
    r = httpx.post(
        f"{base_url}/auth/login",
        content=f"email={alice.email}&password=password-123",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("/login?error=origin")
    assert "access_token" not in r.headers.get("set-cookie", "")


def test_events_published_while_connecting_are_not_lost(base_url):
    """Posts race a stream's connect; each one the stream was open for must arrive."""
    alice, bob = signup(base_url, "alice"), signup(base_url, "bob")
    stop = threading.Event()
    titles: list[str] = []

    def publish():
        n = 0
        while not stop.is_set() and n < 200:
            titles.append(create_post(base_url, bob, title=f"race {n}")["title"])
            n += 1

    worker = threading.Thread(target=publish, daemon=True)
    worker.start()
    streams = [open_stream(base_url, alice) for _ in range(3)]
    seen_first = [s.next(10).data["message"] for s in streams]
    stop.set()
    worker.join(30)
    try:
        for stream, first in zip(streams, seen_first, strict=True):
            start = next(i for i, t in enumerate(titles) if f'"{t}"' in first)
            rest = [e.data["message"] for e in stream.collect(len(titles) - start - 1, timeout=20)]
            expected = [f'bob님이 "{t}" 글을 작성했어요.' for t in titles[start + 1 :]]
            assert rest == expected  # contiguous from its first event on: nothing skipped
    finally:
        for stream in streams:
            stream.close()
