"""Shared fixtures: one real backend for the API tests, one full prod app for browser tests.

Server databases come from `fresh_database_url()`: SQLite by default, PostgreSQL (a
throwaway local server) with NOTIFIER_TEST_DB=postgres.
"""

from __future__ import annotations

import os

import pytest

from tests.support.server import AppServer, database_backend, fresh_database_url


def pytest_report_header(config) -> str:
    return f"notifier test database: {database_backend()} (NOTIFIER_TEST_DB)"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """With NOTIFIER_TEST_SUMMARY=<file>, append this run's result line to it (make test's recap)."""
    path = os.environ.get("NOTIFIER_TEST_SUMMARY")
    if path:
        parts, _ = terminalreporter.build_summary_stats_line()
        stats = ", ".join(text for text, _markup in parts)
        with open(path, "a") as out:
            out.write(f"{database_backend():8} {' '.join(config.invocation_params.args) or '(testpaths)'}: {stats}\n")


def pytest_sessionfinish(session, exitstatus) -> None:
    """Stop the throwaway PostgreSQL server, if this session started one."""
    from tests.support import postgres

    postgres.stop()


@pytest.fixture(scope="session")
def api_server(tmp_path_factory):
    """The real app, backend only (prod mode), on a fresh migrated database."""
    db_url = fresh_database_url(tmp_path_factory.mktemp("api-db"))
    with AppServer(db_url=db_url, name="api", env={"NOTIFIER_MAX_STREAMS_PER_USER": "4"}) as server:
        yield server


@pytest.fixture(scope="session")
def base_url(api_server) -> str:
    return api_server.url
