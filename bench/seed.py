"""Bench accounts without argon2: rows inserted straight into a scratch database, tokens
minted with the app's own `create_token` under the secret the server runs with.

Run as a child process (`python -m bench.seed`) with NOTIFIER_JWT_SECRET set, so the
harness — or a pytest process whose settings are cached already — never has to change
its own environment. Writes JSON to --out: {"publisher": [id, token], "users": [[id, token], ...]}.
User 1 is the publisher; users 2..N+1 are the subscribers (nickname b<id>).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

PUBLISHER_ID = 1
NO_LOGIN_HASH = "!bench-account-no-password"


def seed_database(db_url: str, users: int) -> None:
    import sqlalchemy as sa

    from notifier_app.db import migrate
    from notifier_app.models import User

    migrate(db_url)
    now = datetime.now(UTC)
    rows = [dict(id=PUBLISHER_ID, email="publisher@bench.invalid", nickname="publisher",
                 password_hash=NO_LOGIN_HASH, created_at=now)]
    rows += [
        dict(id=uid, email=f"b{uid}@bench.invalid", nickname=f"b{uid}", password_hash=NO_LOGIN_HASH, created_at=now)
        for uid in range(PUBLISHER_ID + 1, PUBLISHER_ID + 1 + users)
    ]
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.insert(User.__table__), rows)
    engine.dispose()


def mint(users: int) -> dict:
    from notifier_app.auth.security import create_token

    ids = range(PUBLISHER_ID + 1, PUBLISHER_ID + 1 + users)
    return {
        "publisher": [PUBLISHER_ID, create_token(PUBLISHER_ID)],
        "users": [[uid, create_token(uid)] for uid in ids],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--db", help="a scratch SQLite URL to migrate and fill (omit to only mint tokens)")
    parser.add_argument("--out", required=True, help="where to write the JSON")
    args = parser.parse_args(argv)
    if args.db:
        seed_database(args.db, args.users)
    with open(args.out, "w") as f:
        json.dump(mint(args.users), f)


if __name__ == "__main__":
    main()
