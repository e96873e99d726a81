"""Fixtures for the API integration tests."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_no_traceback


@pytest.fixture(scope="module", autouse=True)
def server_log_clean(api_server):
    """Fail the module if the shared server logged a traceback while its tests ran."""
    start = len(api_server.log_text())
    yield
    assert_no_traceback(api_server, start)
