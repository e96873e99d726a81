"""Engine, sessions and migrations. The URL comes from rxconfig (REFLEX_DB_URL overrides)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

import sqlalchemy as sa
from sqlmodel import Session, create_engine

from notifier_app.config import PROJECT_DIR, ConfigError, db_timeout_seconds

logger = logging.getLogger("notifier")


def database_url() -> str:
    url = os.environ.get("REFLEX_DB_URL")
    if not url:
        from reflex.config import get_config

        url = get_config().db_url
    if not url:
        raise ConfigError("No database URL: set db_url in rxconfig.py or REFLEX_DB_URL")
    return url


@cache
def engine() -> sa.Engine:
    url = database_url()
    # Bounded waits (NOTIFIER_DB_TIMEOUT_SECONDS): a locked or unreachable database fails
    # the request within seconds, answered 503 + Retry-After (api/faults.py).
    timeout = db_timeout_seconds()
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": timeout})

        @sa.event.listens_for(eng, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # No checkpoint inside a commit: the commit that crossed 1,000 WAL pages used to
            # copy them into the database file and fsync it, ~6 ms on this machine's disk,
            # once every ~120 comments — the write path's p99. The app's lifespan runs
            # `checkpoint()` every second instead (scripts end, and closing the last
            # connection checkpoints anyway).
            cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        return eng
    connect_args = {}
    if url.startswith("postgresql"):
        # Timestamps come back in UTC whatever the server's TimeZone (pages print them as UTC).
        # A row or table lock held elsewhere fails the statement after the timeout
        # (LockNotAvailable, an OperationalError) instead of waiting for ever.
        connect_args["options"] = f"-c timezone=UTC -c lock_timeout={int(timeout * 1000)}"
        connect_args["connect_timeout"] = max(1, round(timeout))  # whole seconds (libpq)
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_timeout=timeout, connect_args=connect_args
    )


@contextmanager
def session() -> Iterator[Session]:
    with Session(engine(), expire_on_commit=False) as s:
        yield s


def is_sqlite() -> bool:
    return engine().dialect.name == "sqlite"


def checkpoint() -> tuple[int, int]:
    """SQLite: copy the write-ahead log into the database file, without waiting for
    readers or writers (PASSIVE). Returns (frames in the log, frames checkpointed)."""
    with engine().connect() as conn:
        _busy, logged, done = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    return logged, done


# A session's after-commit callbacks, in its `info`. (sa.event.listen per call was half
# of the ORM-free comment path's overhead; one class-level hook is a dict lookup.)
_AFTER_COMMIT = "notifier.after_commit"


def after_commit(s: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once `s` has committed (never, if it rolls back), in the committing
    thread. A callback that fails is logged: the write is committed, and its caller must
    not hear otherwise."""
    s.info.setdefault(_AFTER_COMMIT, []).append(callback)


@sa.event.listens_for(Session, "after_commit")
def _run_after_commit(s: Session) -> None:
    for callback in s.info.pop(_AFTER_COMMIT, ()):
        try:
            callback()
        except Exception:
            logger.exception("after-commit callback %r failed", callback)


@sa.event.listens_for(Session, "after_rollback")
def _forget_after_commit(s: Session) -> None:
    s.info.pop(_AFTER_COMMIT, None)


def migrate(url: str | None = None) -> None:
    """Apply every Alembic migration (upgrade to head)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(PROJECT_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_DIR / "alembic"))
    cfg.set_main_option("sqlalchemy.url", (url or database_url()).replace("%", "%%"))
    command.upgrade(cfg, "head")
