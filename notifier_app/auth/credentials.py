"""Logging in and signing up for the API: the database work in the request thread pool,
the password hash in the bounded hashing pool (auth/hashing.py), awaited without holding a
thread. Both raise hashing.Busy when the pool is full (the API's 503 + Retry-After);
logins are throttled per account and client address first (auth/throttle.py: 429).

A login whose hash was made with older parameters (argon2-cffi's default, before the
parameters were chosen: auth/security.py) stores a new hash, made in the same pool job as
the check: the next login of that account costs what new hashes cost.
"""

from __future__ import annotations

import functools
import logging

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from notifier_app.auth.hashing import pool
from notifier_app.auth.security import hash_password, needs_rehash, verify_password
from notifier_app.auth.throttle import login_throttle
from notifier_app.blog import services
from notifier_app.blog.schemas import LoginIn, SignupIn, UserPublic

log = logging.getLogger("notifier.auth")


def _check(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """(whether the password matches, a new hash of it if the stored one is outdated)."""
    if not verify_password(password_hash, password):
        return False, None
    return True, hash_password(password) if password_hash and needs_rehash(password_hash) else None


async def login(data: LoginIn, address: str) -> UserPublic:
    """The account, or services.BadCredentials (the same time for an unknown email);
    throttle.Throttled when this (account, address) must wait, hashing.Busy when the pool
    is full. `address`: the client's (api/clients.py)."""
    pool().check()  # a full pool: refused before any other work
    account = services.normalize_email(data.email)
    throttle = login_throttle()
    await throttle.attempt(account, address)
    user, password_hash = await run_in_threadpool(services.credentials, data.email) or (None, None)
    ok, new_hash = await pool().run(_check, password_hash, data.password)
    if not ok or user is None:
        await throttle.failed(account, address)
        raise services.BadCredentials()
    await throttle.succeeded(account, address)
    if new_hash is not None and password_hash is not None:
        try:
            await run_in_threadpool(services.replace_password_hash, user.id, password_hash, new_hash)
        except SQLAlchemyError as exc:  # the login stands; the next one tries again
            log.warning("could not store a rehashed password for user %s: %s", user.id, exc)
    return user


async def signup(data: SignupIn) -> UserPublic:
    """The new account, or services.EmailTaken."""
    password_hash = await pool().run(hash_password, data.password)
    return await run_in_threadpool(functools.partial(services.signup, data, password_hash=password_hash))
