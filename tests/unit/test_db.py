"""The engine: SQLite's settings and background checkpoint, after-commit callbacks."""

from __future__ import annotations

import pytest
from sqlmodel import select

from notifier_app import db
from notifier_app.models import User
from tests.support.server import database_backend
from tests.unit.conftest import make_user

sqlite_only = pytest.mark.skipif(database_backend() != "sqlite", reason="SQLite's write-ahead log")


@sqlite_only
def test_commits_leave_checkpointing_to_the_app(database):
    with db.engine().connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0


@sqlite_only
def test_checkpoint_moves_the_whole_log_into_the_database(database):
    for n in range(20):
        make_user(f"u{n}@example.com", f"u{n}")
    logged, done = db.checkpoint()
    assert logged > 0 and done == logged
    with db.session() as s:
        assert len(s.exec(select(User)).all()) == 20


def test_a_failing_after_commit_callback_does_not_undo_or_fail_the_write(database, caplog):
    def broken() -> None:
        raise RuntimeError("publisher gone")

    with db.session() as s:
        s.add(User(email="kept@example.com", nickname="kept", password_hash="x"))
        db.after_commit(s, broken)
        s.commit()  # must not raise: the row is committed
    assert "after-commit callback" in caplog.text
    with db.session() as s:
        assert [u.email for u in s.exec(select(User)).all()] == ["kept@example.com"]


def test_after_commit_callbacks_of_a_rolled_back_transaction_never_run(database):
    ran: list[str] = []
    with db.session() as s:
        s.add(User(email="gone@example.com", nickname="gone", password_hash="x"))
        db.after_commit(s, lambda: ran.append("rolled back"))
        s.rollback()
        s.add(User(email="kept@example.com", nickname="kept", password_hash="x"))
        db.after_commit(s, lambda: ran.append("committed"))
        s.commit()
    assert ran == ["committed"]
