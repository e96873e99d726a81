"""The login throttle (auth/throttle.py) on its in-process store."""

from __future__ import annotations

import pytest

from notifier_app.auth.throttle import LoginThrottle, Throttled, parse_limits
from notifier_app.config import ConfigError, login_limits
from tests.unit.conftest import run


def throttle(**limits: str) -> LoginThrottle:
    given = {"pair": "", "account": "", "address": "", **limits}
    return LoginThrottle(**{name: parse_limits(text) for name, text in given.items()})


async def attempts(t: LoginThrottle, account: str, address: str, n: int, *, fail: bool = True) -> list[str]:
    answers = []
    for _ in range(n):
        try:
            await t.attempt(account, address)
        except Throttled as exc:
            assert 1 <= exc.retry_after <= 3600
            answers.append(exc.why)
            continue
        answers.append("ok")
        if fail:
            await t.failed(account, address)
    return answers


def test_the_strictest_window_applies_first_and_the_longer_ones_after():
    t = throttle(pair="2/minute;3/hour")

    async def scenario():
        assert await attempts(t, "a", "1.1.1.1", 3) == ["ok", "ok", "pair"]
        assert await attempts(t, "a", "2.2.2.2", 1) == ["ok"]  # another address: another pair
        assert await attempts(t, "b", "1.1.1.1", 1) == ["ok"]  # another account: another pair

    run(scenario())


def test_known_addresses_skip_the_account_limit():
    t = throttle(account="2/minute")

    async def scenario():
        await t.attempt("a", "home")
        await t.succeeded("a", "home")
        assert await attempts(t, "a", "elsewhere", 2) == ["ok", "account"]
        assert await attempts(t, "a", "home", 3) == ["ok", "ok", "ok"]

    run(scenario())


def test_addresses_count_failures_only():
    t = throttle(address="2/minute")

    async def scenario():
        for account in ("a", "b", "c"):
            await t.attempt(account, "office")
            await t.succeeded(account, "office")
        assert await attempts(t, "d", "office", 3) == ["ok", "ok", "address"]

    run(scenario())


def test_a_store_that_fails_lets_logins_through():
    t = LoginThrottle(pair=parse_limits("1/minute"), account=[], address=[], storage_uri="redis://127.0.0.1:1")

    async def scenario():
        for _ in range(3):
            await t.attempt("a", "x")
            await t.failed("a", "x")
        await t.succeeded("a", "x")

    run(scenario())


def test_limits_settings(monkeypatch):
    monkeypatch.setenv("NOTIFIER_LOGIN_LIMIT_PAIR", "")
    monkeypatch.setenv("NOTIFIER_LOGIN_LIMIT_ADDRESS", "7/minute")
    assert login_limits()[0] == "" and login_limits()[2] == "7/minute"
    monkeypatch.setenv("NOTIFIER_LOGIN_LIMIT_ACCOUNT", "lots")
    with pytest.raises(ConfigError):
        login_limits()
