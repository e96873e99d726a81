"""Login throttling: password guesses are limited per account, per client address, and
hardest per (account, address) pair, with delays that grow as the guesses go on.

Before this, guesses were limited only by the hash's cost (5.5-6.3 per second per
account, all answered 401, the right one working right after; issue 21). Now each login
attempt is weighed against three sets of limits (`limits`' sliding-window counters;
several windows per set, so the wait grows: at most a minute after a few guesses, ten
minutes after more, an hour after many):
- the (account, address) pair, NOTIFIER_LOGIN_LIMIT_PAIR (5/minute;10/10 minutes;
  20/hour): every attempt counts, as it starts (a burst cannot slip through together);
  a success clears it;
- the account from any address, NOTIFIER_LOGIN_LIMIT_ACCOUNT (20/minute;100/hour):
  every attempt counts, except from an address that logged in to it before
  (`KNOWN_SECONDS`, 30 days): a guesser spread over many addresses slows down the
  account's logins from new places, never the real user's from theirs. That is how an
  attacker cannot turn the throttle into a lockout;
- the address against any account, NOTIFIER_LOGIN_LIMIT_ADDRESS (30/minute;200/hour):
  failures count (many people behind one NAT log in successfully all day).
The account is the email as typed, normalized: an unknown email is throttled like a real
one, so a 429 says nothing about whether an account exists. An IPv6 client is its /64.
Refused attempts are answered 429 + Retry-After (when the first window frees a slot), do
no hashing and change nothing.

The counts live in this process, or in Redis when REFLEX_REDIS_URL is set, shared by
every worker and host. If the store fails, logins go on unthrottled (logged): the
hashing pool still bounds the work (auth/hashing.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.storage import storage_from_string
from limits.aio.strategies import SlidingWindowCounterRateLimiter

log = logging.getLogger("notifier.throttle")

KNOWN_SECONDS = 30 * 24 * 3600
_KNOWN = "notifier-login-known"


class Throttled(Exception):
    """Too many login attempts: wait `retry_after` seconds. `why`: pair, account or address."""

    def __init__(self, why: str, retry_after: int) -> None:
        super().__init__(f"too many login attempts ({why}); retry in {retry_after} s")
        self.why = why
        self.retry_after = retry_after


def parse_limits(text: str) -> list[RateLimitItem]:
    """"5/minute;20/hour" (the `limits` notation); empty: no limit."""
    return parse_many(text) if text.strip() else []


class LoginThrottle:
    def __init__(
        self,
        *,
        pair: Sequence[RateLimitItem],
        account: Sequence[RateLimitItem],
        address: Sequence[RateLimitItem],
        storage_uri: str | None = None,
    ) -> None:
        self.pair, self.account, self.address = list(pair), list(account), list(address)
        self.storage_uri = storage_uri
        self._loop: asyncio.AbstractEventLoop | None = None
        self._storage: Storage | None = None
        self._limiter: SlidingWindowCounterRateLimiter | None = None

    def _store(self) -> tuple[Storage, SlidingWindowCounterRateLimiter]:
        # One store per event loop: the in-memory one keeps asyncio locks and an expiry task.
        loop = asyncio.get_running_loop()
        if self._limiter is None or loop is not self._loop:
            if self.storage_uri:
                self._storage = storage_from_string(
                    "async+" + self.storage_uri, implementation="redispy", key_prefix="notifier-throttle"
                )
            else:
                self._storage = MemoryStorage()
            self._limiter, self._loop = SlidingWindowCounterRateLimiter(self._storage), loop
        return self._storage, self._limiter

    async def attempt(self, account: str, address: str) -> None:
        """Raise Throttled if this attempt must wait; otherwise count it (pair, account)."""
        try:
            storage, limiter = self._store()
            for item in self.address:
                if not await limiter.test(item, "address", address):
                    raise Throttled("address", await self._retry_after(limiter, item, "address", address))
            for item in self.pair:
                if not await limiter.hit(item, "pair", account, address):
                    raise Throttled("pair", await self._retry_after(limiter, item, "pair", account, address))
            if self.account and not await storage.get(self._known_key(account, address)):
                for item in self.account:
                    if not await limiter.hit(item, "account", account):
                        raise Throttled("account", await self._retry_after(limiter, item, "account", account))
        except Throttled:
            raise
        except Exception as exc:  # noqa: BLE001 (the store failed: let the attempt through)
            log.warning("login throttle unavailable, attempt let through: %s", exc)

    async def check(self, account: str, address: str) -> None:
        """Raise Throttled if an attempt now would be refused; counts nothing (the hot
        paths refuse a storm of throttled logins with it before the framework runs)."""
        try:
            storage, limiter = self._store()
            checks = [("address", item, ("address", address)) for item in self.address]
            checks += [("pair", item, ("pair", account, address)) for item in self.pair]
            if self.account and not await storage.get(self._known_key(account, address)):
                checks += [("account", item, ("account", account)) for item in self.account]
            for why, item, key in checks:
                if not await limiter.test(item, *key):
                    raise Throttled(why, await self._retry_after(limiter, item, *key))
        except Throttled:
            raise
        except Exception:  # noqa: BLE001 (the attempt itself will say)
            return

    async def failed(self, account: str, address: str) -> None:
        try:
            _storage, limiter = self._store()
            for item in self.address:
                await limiter.hit(item, "address", address)
        except Exception as exc:  # noqa: BLE001
            log.warning("login throttle unavailable, failure not counted: %s", exc)

    async def succeeded(self, account: str, address: str) -> None:
        """The pair's count is cleared, and the address is known to the account from now on."""
        try:
            storage, limiter = self._store()
            for item in self.pair:
                await limiter.clear(item, "pair", account, address)
            key = self._known_key(account, address)
            await storage.clear(key)
            await storage.incr(key, KNOWN_SECONDS)
        except Exception as exc:  # noqa: BLE001
            log.warning("login throttle unavailable, success not recorded: %s", exc)

    @staticmethod
    def _known_key(account: str, address: str) -> str:
        return f"{_KNOWN}/{account}/{address}"

    @staticmethod
    async def _retry_after(limiter: SlidingWindowCounterRateLimiter, item: RateLimitItem, *key: str) -> int:
        stats = await limiter.get_window_stats(item, *key)
        return max(1, math.ceil(stats.reset_time - time.time()))


_throttle: LoginThrottle | None = None


def login_throttle() -> LoginThrottle:
    """The process's throttle, from the settings (config.py)."""
    global _throttle
    if _throttle is None:
        from notifier_app.config import login_limits, throttle_storage_url

        pair, account, address = login_limits()
        _throttle = LoginThrottle(
            pair=parse_limits(pair),
            account=parse_limits(account),
            address=parse_limits(address),
            storage_uri=throttle_storage_url(),
        )
    return _throttle
