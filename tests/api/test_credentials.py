"""Bounded credential work (issue 21, item 1), against the real server: passwords are
hashed with the chosen argon2 parameters, older hashes still verify (and are replaced at
login), and a full hashing pool answers 503 + Retry-After + JSON at once, doing nothing."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from tests.api.helpers import assert_json_error, assert_no_traceback
from tests.support.client import signup
from tests.support.server import AppServer, fresh_database_url

PASSWORD = "password-123"
CHOSEN = "m=19456,t=2,p=1"


def stored_hash(db_url: str, email: str) -> str | None:
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT password_hash FROM users WHERE email = :e"), {"e": email}).scalar()
    finally:
        engine.dispose()


def set_hash(db_url: str, email: str, password_hash: str) -> None:
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE users SET password_hash = :h WHERE email = :e"), {"h": password_hash, "e": email})
    finally:
        engine.dispose()


def login(base_url: str, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{base_url}/api/auth/login", json={"email": email, "password": password}, timeout=30)


def test_new_passwords_are_hashed_with_the_chosen_parameters(base_url, api_server):
    account = signup(base_url, "hash-params")
    assert f"${CHOSEN}$" in stored_hash(api_server.db_url, account.email)


def test_an_older_hash_still_logs_in_and_is_replaced(base_url, api_server):
    account = signup(base_url, "old-hash")
    old = PasswordHasher().hash(PASSWORD)  # argon2-cffi's default, what earlier versions stored
    set_hash(api_server.db_url, account.email, old)
    assert login(base_url, account.email, "wrong-password").status_code == 401
    assert stored_hash(api_server.db_url, account.email) == old  # a failed login changes nothing
    assert login(base_url, account.email, PASSWORD).status_code == 200
    new = stored_hash(api_server.db_url, account.email)
    assert new != old and f"${CHOSEN}$" in new
    assert login(base_url, account.email, PASSWORD).status_code == 200


# -- a full pool ---------------------------------------------------------------------

WORKERS, QUEUE = 1, 2


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    """One hash at a time, two waiting, each hash ~0.3-0.5 s: easy to fill."""
    env = {"NOTIFIER_HASH_WORKERS": str(WORKERS), "NOTIFIER_HASH_QUEUE": str(QUEUE), "NOTIFIER_ARGON2_TIME_COST": "25"}
    # No login throttle here: these storms test the pool (tests/api/test_throttle.py tests the throttle).
    env.update(NOTIFIER_LOGIN_LIMIT_PAIR="", NOTIFIER_LOGIN_LIMIT_ACCOUNT="", NOTIFIER_LOGIN_LIMIT_ADDRESS="")
    db_url = fresh_database_url(tmp_path_factory.mktemp("hash-db"))
    with AppServer(db_url=db_url, name="hashing", env=env) as server:
        yield server
        assert_no_traceback(server)


def storm(fn, n: int) -> list[tuple[httpx.Response, float]]:
    def timed(i):
        start = time.monotonic()
        r = fn(i)
        return r, time.monotonic() - start

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(timed, range(n)))


def test_a_full_pool_refuses_logins_and_signups_at_once_and_changes_nothing(slow_server):
    base = slow_server.url
    victim = signup(base, "victim")
    logins = storm(lambda i: login(base, victim.email, f"wrong-{i}"), 12)
    statuses = sorted(r.status_code for r, _ in logins)
    assert set(statuses) == {401, 503}, statuses
    assert statuses.count(401) >= WORKERS + QUEUE
    for r, elapsed in logins:
        if r.status_code == 503:
            detail = assert_json_error(r, 503)["detail"]
            assert "retry" in detail.lower()
            assert int(r.headers["retry-after"]) >= 1
            assert elapsed < 2.0, f"a refusal took {elapsed:.1f}s"

    emails = [f"storm.{i}.{time.monotonic_ns()}@example.com" for i in range(12)]
    signups = storm(
        lambda i: httpx.post(f"{base}/api/auth/signup", json={"email": emails[i], "nickname": "s", "password": PASSWORD}, timeout=30),
        12,
    )
    assert {r.status_code for r, _ in signups} == {201, 503}
    for email, (r, _) in zip(emails, signups, strict=True):
        assert (stored_hash(slow_server.db_url, email) is not None) == (r.status_code == 201), (email, r.status_code)
        if r.status_code == 503:
            assert_json_error(r, 503)
    # The storm over, the right password works.
    assert login(base, victim.email, PASSWORD).status_code == 200


def fill_pool(base: str, email: str) -> list[threading.Thread]:
    """Start enough wrong logins to keep the pool full for seconds, and return once the
    server says it is full (a login answered 503): the caller's next request meets a
    full pool. The threads are the caller's to join."""
    hold = [threading.Thread(target=login, args=(base, email, f"wrong-{i}")) for i in range(10 * (WORKERS + QUEUE))]
    for thread in hold:
        thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:  # a probe the pool takes is left to finish on its own: the next one goes now
            if httpx.post(f"{base}/api/auth/login", json={"email": email, "password": "probe"}, timeout=0.5).status_code == 503:
                return hold
        except httpx.TimeoutException:
            pass
    raise AssertionError("the hashing pool never answered 503 within 20 s")


def test_a_form_login_while_the_pool_is_full_goes_back_with_error_busy(slow_server):
    base = slow_server.url
    victim = signup(base, "form-victim")
    hold = fill_pool(base, victim.email)
    r = httpx.post(f"{base}/auth/login", data={"email": victim.email, "password": PASSWORD}, follow_redirects=False, timeout=30)
    for thread in hold:
        thread.join()
    assert r.status_code == 303, r.text[:300]
    url = urlsplit(r.headers["location"])
    assert url.path == "/login" and parse_qs(url.query)["error"] == ["busy"]
    assert "access_token" not in r.headers.get("set-cookie", "")


def test_a_form_signup_while_the_pool_is_full_goes_back_with_error_busy(slow_server):
    base = slow_server.url
    victim = signup(base, "form-signup-victim")
    hold = fill_pool(base, victim.email)
    email = f"busy.{time.monotonic_ns()}@example.com"
    r = httpx.post(f"{base}/auth/signup", data={"email": email, "nickname": "busy", "password": PASSWORD}, follow_redirects=False, timeout=30)
    for thread in hold:
        thread.join()
    assert r.status_code == 303, r.text[:300]
    url = urlsplit(r.headers["location"])
    assert url.path == "/signup" and parse_qs(url.query)["error"] == ["busy"]
    assert "access_token" not in r.headers.get("set-cookie", "")
    assert stored_hash(slow_server.db_url, email) is None
