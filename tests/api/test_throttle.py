"""Login throttling (issue 21, item 1), against the real server: per (account, address)
hardest, per account except from addresses that logged in before, per address across
accounts; 429 + Retry-After + JSON, at once and changing nothing; X-Forwarded-For only
from a trusted proxy."""

from __future__ import annotations

import itertools
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.api.helpers import assert_json_error, assert_no_traceback
from tests.support.client import signup
from tests.support.server import AppServer, fresh_database_url

PASSWORD = "password-123"
PAIR, ACCOUNT, ADDRESS = 3, 6, 8
_addresses = itertools.count(1)


def new_address() -> str:
    n = next(_addresses)
    return f"203.0.113.{n}" if n < 250 else f"198.51.100.{n - 249}"


@pytest.fixture(scope="module")
def proxied():
    """A server behind a trusted proxy (loopback), with small limits: the tests choose
    their client addresses with X-Forwarded-For."""
    env = {
        "NOTIFIER_TRUSTED_PROXIES": "127.0.0.0/8,::1",
        "NOTIFIER_LOGIN_LIMIT_PAIR": f"{PAIR}/minute",
        "NOTIFIER_LOGIN_LIMIT_ACCOUNT": f"{ACCOUNT}/minute",
        "NOTIFIER_LOGIN_LIMIT_ADDRESS": f"{ADDRESS}/minute",
    }
    with AppServer(db_url=fresh_database_url(), name="throttle", env=env) as server:
        yield server
        assert_no_traceback(server)


def login(base: str, email: str, password: str, address: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": address} if address else {}
    return httpx.post(f"{base}/api/auth/login", json={"email": email, "password": password}, headers=headers, timeout=30)


def assert_throttled(r: httpx.Response, why: str) -> int:
    detail = assert_json_error(r, 429)["detail"]
    assert why in detail, detail
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= 60, retry
    assert "access_token" not in r.headers.get("set-cookie", "")
    return retry


def test_guesses_from_one_address_wait_and_the_real_user_elsewhere_does_not(proxied):
    base = proxied.url
    victim = signup(base, "pair-victim")
    attacker = new_address()
    for i in range(PAIR):
        assert login(base, victim.email, f"wrong-{i}", attacker).status_code == 401
    start = time.monotonic()
    r = login(base, victim.email, "wrong-again", attacker)
    elapsed = time.monotonic() - start
    assert elapsed < 2.0, f"a refusal hashes nothing, yet took {elapsed:.2f}s"
    assert_throttled(r, "for this account from your address")
    assert_throttled(login(base, victim.email, PASSWORD, attacker), "from your address")  # even the right one: wait
    assert login(base, victim.email, PASSWORD, new_address()).status_code == 200


def test_an_unknown_email_is_throttled_like_a_real_one(proxied):
    base = proxied.url
    address = new_address()
    email = f"nobody.{time.monotonic_ns()}@example.com"
    answers = [login(base, email, f"wrong-{i}", address).status_code for i in range(PAIR + 1)]
    assert answers == [401] * PAIR + [429]


def test_a_success_clears_the_pair(proxied):
    base = proxied.url
    user = signup(base, "pair-clear")
    address = new_address()
    for i in range(PAIR - 1):
        assert login(base, user.email, f"wrong-{i}", address).status_code == 401
    assert login(base, user.email, PASSWORD, address).status_code == 200
    for i in range(PAIR):
        assert login(base, user.email, f"typo-{i}", address).status_code == 401


def test_guesses_spread_over_addresses_never_lock_the_user_out_where_they_logged_in_before(proxied):
    base = proxied.url
    victim = signup(base, "spread-victim")
    home = new_address()
    assert login(base, victim.email, PASSWORD, home).status_code == 200  # the user's usual place
    for i in range(ACCOUNT - 1):  # the first login (home was not known yet) counted too
        assert login(base, victim.email, f"wrong-{i}", new_address()).status_code == 401
    assert_throttled(login(base, victim.email, "wrong-more", new_address()), "for this account")
    assert_throttled(login(base, victim.email, PASSWORD, new_address()), "for this account")  # a new place waits
    assert login(base, victim.email, PASSWORD, home).status_code == 200  # home does not


def test_one_address_guessing_many_accounts_waits(proxied):
    base = proxied.url
    sprayer = new_address()
    for i in range(ADDRESS):
        assert login(base, f"spray.{i}.{time.monotonic_ns()}@example.com", "password-1", sprayer).status_code == 401
    assert_throttled(login(base, f"spray.last.{time.monotonic_ns()}@example.com", "password-1", sprayer), "from your address")
    user = signup(base, "sprayed-neighbour")
    assert login(base, user.email, PASSWORD, new_address()).status_code == 200


def test_the_login_form_goes_back_with_error_throttled(proxied):
    base = proxied.url
    user = signup(base, "form-throttled")
    address = new_address()
    for i in range(PAIR):
        login(base, user.email, f"wrong-{i}", address)
    r = httpx.post(
        f"{base}/auth/login",
        data={"email": user.email, "password": PASSWORD},
        headers={"X-Forwarded-For": address},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    url = urlsplit(r.headers["location"])
    assert url.path == "/login" and parse_qs(url.query)["error"] == ["throttled"]
    assert "access_token" not in r.headers.get("set-cookie", "")


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(base_url):
    """The shared server trusts no proxy: a new X-Forwarded-For per guess is no new client."""
    user = signup(base_url, "xff-spoof")
    answers = [login(base_url, user.email, f"wrong-{i}", new_address()).status_code for i in range(6)]
    assert answers == [401] * 5 + [429]  # the default: 5 per minute per (account, address)


@pytest.fixture(scope="module")
def redis_workers(tmp_path_factory):
    """Two backend processes sharing one database and one Redis (REFLEX_REDIS_URL)."""
    from tests.support.redis_server import RedisServer

    with RedisServer() as redis:
        db_url = fresh_database_url(tmp_path_factory.mktemp("throttle-redis"))
        env = {
            "REFLEX_REDIS_URL": redis.url,
            "GRANIAN_WORKERS": "1",
            "NOTIFIER_LOGIN_LIMIT_PAIR": f"{PAIR}/minute",
            "NOTIFIER_LOGIN_LIMIT_ACCOUNT": f"{ACCOUNT}/minute",
        }
        servers = [AppServer(db_url=db_url, env=env, name=f"throttle{n}").start() for n in (1, 2)]
        yield servers
        for server in servers:
            server.stop()
            assert_no_traceback(server)


def test_with_redis_every_worker_counts_together(redis_workers):
    first, second = redis_workers
    victim = signup(first.url, "redis-victim")
    answers = [login(server.url, victim.email, f"wrong-{i}").status_code for i, server in enumerate([first, second] * 2)]
    assert answers == [401] * PAIR + [429]
    assert_throttled(login(first.url, victim.email, PASSWORD), "from your address")
