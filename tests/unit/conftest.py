"""Fixtures for the unit tests: no server process, a fresh migrated database (SQLite) per test."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from notifier_app import db
from notifier_app.config import settings
from notifier_app.models import User
from tests.support.server import TEST_SECRET, database_backend, fresh_database_url, migrated_sqlite_url

T = TypeVar("T")

# Never verified by these tests: users made with make_user() cannot log in.
FAKE_HASH = "$argon2id$v=19$m=65536,t=3,p=4$not-a-real-hash"


def run(coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    """Run a coroutine on a fresh loop; the timeout only turns a hang into a failure."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@pytest.fixture(autouse=True)
def jwt_secret(monkeypatch) -> str:
    """A known secret for every test, and settings() re-read from the environment."""
    monkeypatch.setenv("NOTIFIER_JWT_SECRET", TEST_SECRET)
    monkeypatch.delenv("NOTIFIER_TOKEN_TTL_SECONDS", raising=False)
    settings.cache_clear()
    yield TEST_SECRET
    settings.cache_clear()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> str:
    """One database migrated by Alembic per session; each test gets a copy (fast).

    SQLite by default; with NOTIFIER_TEST_DB=postgres, a template database on the
    throwaway PostgreSQL server (tests/support/postgres.py).
    """
    if database_backend() == "postgres":
        return fresh_database_url()
    directory = tmp_path_factory.mktemp("template-db")
    migrated_sqlite_url(directory)
    return str(directory / "test.db")


@pytest.fixture
def database(migrated_template, tmp_path, monkeypatch) -> str:
    """A fresh copy of the migrated database, used by notifier_app.db for this test."""
    if database_backend() == "postgres":
        from tests.support import postgres

        url = postgres.fresh_database(template=migrated_template)
    else:
        path = tmp_path / "test.db"
        shutil.copyfile(migrated_template, path)
        url = f"sqlite:///{path}"
    monkeypatch.setenv("REFLEX_DB_URL", url)
    db.engine.cache_clear()
    yield url
    db.engine().dispose()
    db.engine.cache_clear()


def make_user(email: str, nickname: str) -> int:
    """Insert a user directly (no argon2 hashing: fast)."""
    with db.session() as s:
        user = User(email=email, nickname=nickname, password_hash=FAKE_HASH)
        s.add(user)
        s.commit()
        s.refresh(user)
        return user.id


@pytest.fixture
def users(database) -> dict[str, int]:
    """Three users: alice, bob and carol (name -> id)."""
    return {
        "alice": make_user("alice@example.com", "앨리스"),
        "bob": make_user("bob@example.com", "밥"),
        "carol": make_user("carol@example.com", "캐롤"),
    }
