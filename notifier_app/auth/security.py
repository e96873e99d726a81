"""Password hashing (argon2) and access tokens (PyJWT, HS256)."""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from typing import NamedTuple

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import cookie_parser

from notifier_app.config import argon2_memory_kib, argon2_time_cost, settings

COOKIE_NAME = "access_token"
ALGORITHM = "HS256"

# argon2id with the parameters NOTIFIER_ARGON2_MEMORY_KIB and NOTIFIER_ARGON2_TIME_COST
# (config.py: OWASP's m=19 MiB, t=2, p=1; 33 ms per hash here). One lane: a hash is one
# core's work, and the pool (auth/hashing.py) decides how many run at once. A hash carries
# the parameters it was made with, so older hashes (argon2-cffi's 64 MiB, t=3, p=4) still
# verify; `needs_rehash` says when a login should store a new one.
_hasher = PasswordHasher(time_cost=argon2_time_cost(), memory_cost=argon2_memory_kib(), parallelism=1)
# Verifying against this keeps a login for an unknown email as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class InvalidToken(Exception):
    """The token is missing, malformed, expired, tampered with or signed otherwise."""


# User ids are 32-bit INTEGER columns on PostgreSQL (and SQLite's are 64-bit): a `sub`
# beyond this names no account, and 2**70 would overflow the database driver (a 500).
MAX_USER_ID = 2**31 - 1
_USER_ID = re.compile(r"[1-9][0-9]{0,9}")


def user_id_of(sub: object) -> int:
    """The user id a `sub` claim names: its canonical decimal spelling, 1 .. MAX_USER_ID.
    Anything else ("-1", "0", "05", " 5", "5_0", "５", 2**70) raises InvalidToken."""
    if not isinstance(sub, str) or not _USER_ID.fullmatch(sub) or int(sub) > MAX_USER_ID:
        raise InvalidToken("the token's subject is not a user id")
    return int(sub)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a hash was made with other parameters than new hashes get."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return False


def create_token(user_id: int, *, ttl_seconds: int | None = None, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    ttl = ttl_seconds if ttl_seconds is not None else settings().token_ttl_seconds
    claims = {"sub": str(user_id), "iat": issued, "exp": issued + ttl}
    return jwt.encode(claims, settings().jwt_secret, algorithm=ALGORITHM)


class VerifiedToken(NamedTuple):
    user_id: int
    expires_at: float  # the `exp` claim (Unix time)


class VerifiedTokens:
    """Tokens whose signature and claims were checked, by their exact text: a client sends
    the same token with every request, and checking it (PyJWT: base64, JSON, HMAC, every
    claim) took 45 µs hot and 150-220 µs in a real server's request path — a sixth of a
    comment request's time before its transaction (bench/README.md).

    Only successes are kept, under the secret they were checked with (a new secret starts
    afresh); a kept token is still refused once its `exp` has passed. A different string,
    however close, is a miss and is checked in full. Bounded: oldest out first (an
    OrderedDict: each step is one call, safe from any thread).
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._secret: str | None = None
        self._entries: OrderedDict[str, VerifiedToken] = OrderedDict()

    def get(self, secret: str, token: str) -> VerifiedToken | None:
        return self._entries.get(token) if secret == self._secret else None

    def add(self, secret: str, token: str, verified: VerifiedToken) -> None:
        if secret != self._secret:
            self._entries, self._secret = OrderedDict(), secret  # emptied before the secret changes
        entries = self._entries
        entries[token] = verified
        while len(entries) > self.max_entries:
            entries.popitem(last=False)


_verified = VerifiedTokens()


def verify_token(token: str | None, *, now: float | None = None) -> VerifiedToken:
    """Who a valid token is for, and until when; raises InvalidToken otherwise. `now`
    (Unix time, default the clock) is when a remembered token's `exp` is checked against."""
    if not token:
        raise InvalidToken("missing token")
    secret = settings().jwt_secret
    known = _verified.get(secret, token)
    if known is not None:
        if known.expires_at <= (now if now is not None else time.time()):
            raise InvalidToken("Signature has expired")
        return known
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat"]})
        verified = VerifiedToken(user_id_of(claims["sub"]), float(claims["exp"]))
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from None
    _verified.add(secret, token, verified)
    return verified


def decode_token(token: str | None) -> int:
    """The user id in a valid token; raises InvalidToken otherwise."""
    return verify_token(token).user_id


def token_from_cookie_header(cookie_header: str | None) -> str | None:
    """The access token in a raw Cookie header, parsed as browsers send it.

    Not http.cookies.SimpleCookie: it silently stops at the first cookie it finds
    invalid (a JSON value, a space, a backslash), so another app's cookie on the same
    host would hide ours. Starlette's parser (the one behind request.cookies, which the
    API uses) is lenient, so the UI and the API agree on who is logged in.
    """
    if not cookie_header:
        return None
    return cookie_parser(cookie_header).get(COOKIE_NAME) or None
