"""A request the API's routes almost matched gets a JSON answer, not the frontend's 404."""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import assert_json_error
from tests.support.client import signup

WRONG_METHODS = [
    ("POST", "/notifications/stream", "GET"),
    ("DELETE", "/notifications/stream", "GET"),
    ("GET", "/notifications/send", "POST"),
    ("PUT", "/api/posts", "GET, POST"),
    ("GET", "/api/posts/1/comments", "POST"),
    ("DELETE", "/api/notifications/7/read", "POST"),
    ("POST", "/system/status", "GET"),
    ("GET", "/realtime/update", "POST"),
    ("GET", "/chat/send", "POST"),
    ("GET", "/auth/login", "POST"),
]


@pytest.mark.parametrize(("method", "path", "allow"), WRONG_METHODS)
def test_a_wrong_method_is_a_405_that_names_the_right_ones(base_url, method, path, allow):
    r = httpx.request(method, f"{base_url}{path}")
    body = assert_json_error(r, 405)
    assert r.headers["allow"] == allow
    assert method in body["detail"] and allow in body["detail"], body


def test_head_on_a_stream_is_a_405_without_a_body(base_url):
    r = httpx.head(f"{base_url}/notifications/stream")
    assert r.status_code == 405 and r.headers["allow"] == "GET" and r.content == b""


@pytest.mark.parametrize("path", ["/api/nope", "/api/posts/1/nope", "/api/nope/", "/api"])
def test_an_unknown_api_path_is_a_json_404(base_url, path):
    for method in ("GET", "POST"):
        body = assert_json_error(httpx.request(method, f"{base_url}{path}"), 404)
        assert path in body["detail"], body


def test_a_trailing_slash_is_redirected_to_the_route(base_url):
    alice = signup(base_url, "alice")
    r = httpx.get(f"{base_url}/api/posts/?limit=1")
    assert r.status_code == 307 and r.headers["location"] == "/api/posts?limit=1"
    assert httpx.get(f"{base_url}/notifications/stream/").headers["location"] == "/notifications/stream"
    # 307 keeps the method and the body: the post is made once, where the route is.
    made = httpx.post(f"{base_url}/api/posts/", json={"title": "slash", "body": "b"}, headers=alice.headers,
                      follow_redirects=True)
    assert made.status_code == 201 and made.json()["title"] == "slash", made.text
    assert httpx.get(f"{base_url}/posts/3/").status_code == 404  # a page's path: Reflex's, as before


def test_the_answers_carry_cors_for_the_own_origin_only(base_url):
    own = httpx.post(f"{base_url}/notifications/stream", headers={"Origin": base_url})
    assert own.status_code == 405 and own.headers.get("access-control-allow-origin") == base_url
    foreign = httpx.post(f"{base_url}/notifications/stream", headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 405 and "access-control-allow-origin" not in foreign.headers
    preflight = httpx.options(
        f"{base_url}/api/nope", headers={"Origin": base_url, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == base_url


def test_the_right_method_and_reflexs_own_endpoints_are_untouched(base_url):
    alice = signup(base_url, "alice")
    assert httpx.get(f"{base_url}/api/me", headers=alice.headers).json()["id"] == alice.id
    assert httpx.get(f"{base_url}/ping").text.strip('"') == "pong"
    assert httpx.get(f"{base_url}/no-such-page").status_code == 404  # Reflex's, as before
