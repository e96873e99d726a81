"""Shared fixtures: one real backend for the API tests, one full prod app for browser tests."""

from __future__ import annotations

import pytest

from tests.support.server import AppServer, migrated_sqlite_url


@pytest.fixture(scope="session")
def api_server(tmp_path_factory):
    """The real app, backend only (prod mode), on a fresh migrated SQLite database."""
    db_url = migrated_sqlite_url(tmp_path_factory.mktemp("api-db"))
    with AppServer(db_url=db_url, name="api", env={"NOTIFIER_MAX_STREAMS_PER_USER": "4"}) as server:
        yield server


@pytest.fixture(scope="session")
def base_url(api_server) -> str:
    return api_server.url
