"""Request bodies are capped before they are read (NOTIFIER_MAX_BODY_BYTES, 1 MiB by
default; api/bodies.py), against the real server: a body past the cap is a 413 with a
JSON detail, whether it declares its length or comes chunked, and nothing is written."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.api.helpers import assert_json_error
from tests.support.client import create_post, signup

CAP = 1024 * 1024
BIG = 5 * 1024 * 1024
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def writer(base_url):
    return signup(base_url, "body-writer")


@pytest.fixture(scope="module")
def post(base_url, writer):
    return create_post(base_url, writer, title="bodies")


def padded_json(fields: dict, size: int) -> bytes:
    """A valid JSON object of `size` bytes: the fields, then whitespace."""
    text = json.dumps(fields).encode()
    return text[:-1] + b" " * (size - len(text)) + b"}"


def chunks(body: bytes, size: int = 64 * 1024):
    for i in range(0, len(body), size):
        yield body[i : i + size]


def targets(post_id: int) -> dict[str, tuple[str, dict, bytes]]:
    """(path, headers, a 5 MB body) for every kind of body the server reads."""
    return {
        "login": ("/api/auth/login", JSON, padded_json({"email": "a@example.com", "password": "x" * 10}, BIG)),
        "signup": ("/api/auth/signup", JSON, padded_json({"email": "big@example.com", "nickname": "n", "password": "p" * 10}, BIG)),
        "form-login": ("/auth/login", FORM, b"email=a%40example.com&password=" + b"x" * BIG),
        "post": ("/api/posts", JSON, padded_json({"title": "big", "body": "b"}, BIG)),
        "comment": (f"/api/posts/{post_id}/comments", JSON, padded_json({"content": "big"}, BIG)),
        "chat": ("/chat/send", JSON, padded_json({"roomId": "general", "message": "big"}, BIG)),
    }


def state(base_url: str, post_id: int) -> tuple[int, int]:
    posts = httpx.get(f"{base_url}/api/posts", params={"limit": 1}).json()["total"]
    comments = httpx.get(f"{base_url}/api/posts/{post_id}").json()["commentCount"]
    return posts, comments


def send(base_url: str, path: str, headers: dict, content, token: str) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    r = httpx.post(base_url + path, content=content, headers={**headers, "Authorization": f"Bearer {token}"}, timeout=30)
    return r, time.monotonic() - start


@pytest.mark.parametrize("name", ["login", "signup", "form-login", "post", "comment", "chat"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_past_the_cap_is_413_and_changes_nothing(base_url, writer, post, name, framing):
    path, headers, body = targets(post["id"])[name]
    before = state(base_url, post["id"])
    content = body if framing == "content-length" else chunks(body)
    r, elapsed = send(base_url, path, headers, content, writer.token)
    detail = assert_json_error(r, 413)["detail"]
    assert str(CAP) in detail, detail
    assert elapsed < 10, f"{elapsed:.1f}s"
    assert state(base_url, post["id"]) == before
    # The connection's next request (or a new one) is served as usual.
    assert httpx.get(f"{base_url}/api/posts/{post['id']}").status_code == 200


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_just_under_the_cap_is_read(base_url, writer, post, framing):
    before_posts, _ = state(base_url, post["id"])
    body = padded_json({"title": "padded", "body": "b"}, CAP - 16)
    r, _ = send(base_url, "/api/posts", JSON, body if framing == "content-length" else chunks(body), writer.token)
    assert r.status_code == 201, r.text[:300]
    body = padded_json({"content": "padded"}, CAP - 16)
    r, _ = send(base_url, f"/api/posts/{post['id']}/comments", JSON, body, writer.token)
    assert r.status_code == 201, r.text[:300]
    assert state(base_url, post["id"])[0] == before_posts + 1
