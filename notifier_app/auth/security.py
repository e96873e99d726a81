"""Password hashing (argon2) and access tokens (PyJWT, HS256)."""

from __future__ import annotations

import time
from typing import NamedTuple

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import cookie_parser

from notifier_app.config import settings

COOKIE_NAME = "access_token"
ALGORITHM = "HS256"

_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown email as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class InvalidToken(Exception):
    """The token is missing, malformed, expired, tampered with or signed otherwise."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def create_token(user_id: int, *, ttl_seconds: int | None = None, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    ttl = ttl_seconds if ttl_seconds is not None else settings().token_ttl_seconds
    claims = {"sub": str(user_id), "iat": issued, "exp": issued + ttl}
    return jwt.encode(claims, settings().jwt_secret, algorithm=ALGORITHM)


class VerifiedToken(NamedTuple):
    user_id: int
    expires_at: float  # the `exp` claim (Unix time)


def verify_token(token: str | None) -> VerifiedToken:
    """Who a valid token is for, and until when; raises InvalidToken otherwise.
    (Decode once: PyJWT checks every character of every segment, ~50 µs a token here.)"""
    if not token:
        raise InvalidToken("missing token")
    try:
        claims = jwt.decode(
            token,
            settings().jwt_secret,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp", "iat"]},
        )
        return VerifiedToken(int(claims["sub"]), float(claims["exp"]))
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from None


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
