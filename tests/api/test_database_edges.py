"""Inputs SQLite takes in its stride but PostgreSQL refuses: they must be 4xx (or harmless)
on both. `make test` runs this module on SQLite and again on PostgreSQL
(NOTIFIER_TEST_DB=postgres); a 500 would also leave a traceback in the server log, which
the module's autouse fixture rejects."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.api.helpers import assert_json_error
from tests.support.client import create_post, inbox, signup, wait_in_inbox
from tests.support.server import database_backend

BEYOND_INT4 = 2**31  # `seq` and every id are 32-bit INTEGER columns on PostgreSQL


def test_the_server_runs_on_the_backend_asked_for(api_server):
    expected = {"sqlite": "sqlite:///", "postgres": "postgresql+psycopg://"}[database_backend()]
    assert api_server.db_url.startswith(expected), api_server.db_url


@pytest.fixture(scope="module")
def pair(base_url):
    return signup(base_url, "edge-a"), signup(base_url, "edge-b")


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/auth/signup", {"email": "nul@example.com", "nickname": "a\x00b", "password": "password-123"}),
        ("/api/auth/signup", {"email": "nul2@example.com", "nickname": "nul", "password": "pass\x00word-123"}),
        ("/api/auth/login", {"email": "a\x00b@example.com", "password": "password-123"}),
        ("/api/auth/login", {"email": "a@example.com", "password": "pass\x00word"}),
        ("/api/posts", {"title": "t\x00", "body": "b"}),
        ("/api/posts", {"title": "t", "body": "b\x00"}),
    ],
    ids=["signup-nickname", "signup-password", "login-email", "login-password", "post-title", "post-body"],
)
def test_nul_characters_are_refused_with_422(base_url, pair, path, body):
    assert_json_error(httpx.post(base_url + path, json=body, headers=pair[0].headers), 422)


def test_nul_in_a_comment_is_refused_and_the_post_is_intact(base_url, pair):
    post = create_post(base_url, pair[0])
    r = httpx.post(f"{base_url}/api/posts/{post['id']}/comments", json={"content": "c\x00"}, headers=pair[1].headers)
    assert_json_error(r, 422)
    assert httpx.get(f"{base_url}/api/posts/{post['id']}").json()["commentCount"] == 0


def test_form_login_with_nul_redirects_back_with_an_error(base_url):
    r = httpx.post(f"{base_url}/auth/login", data={"email": "a\x00b@example.com", "password": "x"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    url = urlsplit(r.headers["location"])
    assert url.path == "/login" and parse_qs(url.query)["error"] == ["credentials"]


def test_sequence_numbers_beyond_32_bits_are_answered_not_crashed(base_url, pair):
    a, b = pair
    post = create_post(base_url, b, title="큰 번호")
    wait_in_inbox(base_url, a, f"/posts/{post['id']}")
    everything = inbox(base_url, a, limit=100)
    for before in (BEYOND_INT4, 2**62):
        r = httpx.get(f"{base_url}/api/notifications", params={"before": before, "limit": 100}, headers=a.headers)
        assert r.status_code == 200, r.text
        assert r.json() == everything, "a `before` past every seq means no bound"
    for seq in (BEYOND_INT4, 2**62):
        assert_json_error(httpx.post(f"{base_url}/api/notifications/{seq}/read", headers=a.headers), 404)
    assert inbox(base_url, a)["unreadCount"] == everything["unreadCount"]
