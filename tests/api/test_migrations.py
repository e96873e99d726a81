"""Every Alembic migration runs up and down on the test backend. Here, not in tests/unit,
because `make test` runs tests/api on PostgreSQL too (NOTIFIER_TEST_DB=postgres)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from notifier_app.config import PROJECT_DIR
from tests.support.server import fresh_database_url


def alembic_config(url: str) -> Config:
    cfg = Config(str(PROJECT_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_DIR / "alembic"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["skip_logging"] = True
    return cfg


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_go_down_to_nothing_and_up_again(tmp_path):
    url = fresh_database_url(tmp_path)  # at head already
    cfg = alembic_config(url)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    at_head = tables(url)
    assert {"users", "posts", "comments", "notifications"} <= at_head

    command.downgrade(cfg, "base")
    assert tables(url) == set()
    command.upgrade(cfg, head)
    assert tables(url) == at_head
