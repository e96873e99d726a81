"""Which requests `RouteMisses` answers itself (the answers on the real server: tests/api/test_misses.py)."""

from __future__ import annotations

import re

import pytest

from notifier_app.api.app import create_api
from notifier_app.api.misses import RouteMisses


def scope(method: str, path: str) -> dict:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}


@pytest.fixture(scope="module")
def misses() -> RouteMisses:
    return RouteMisses(app=None, api=create_api())


def test_allowed_methods_are_those_of_the_routes_on_the_path(misses):
    assert misses.allowed_methods(scope("POST", "/notifications/stream")) == ["GET"]
    assert misses.allowed_methods(scope("GET", "/api/posts")) == ["GET", "POST"]
    assert misses.allowed_methods(scope("GET", "/api/posts/12/comments")) == ["POST"]
    assert misses.allowed_methods(scope("GET", "/docs")) == ["GET", "HEAD"]
    assert misses.allowed_methods(scope("GET", "/notifications")) == []  # a page, not an API path


def test_what_is_not_an_api_path_goes_on_to_reflex(misses):
    for path in ("/", "/ping", "/_event", "/notifications", "/posts/3", "/apidocs", "/no-such-page"):
        assert misses.answer(scope("GET", path)) is None, path
    assert misses.answer(scope("GET", "/api/nope")).status_code == 404
    assert misses.answer(scope("GET", "/api/nope/")).status_code == 404
    assert misses.answer(scope("GET", "/posts/3/")) is None


def test_a_trailing_slash_on_an_api_path_is_a_relative_redirect(misses):
    redirect = misses.answer({**scope("GET", "/api/posts/12/"), "query_string": b"a=1"})
    assert redirect.status_code == 307 and redirect.headers["location"] == "/api/posts/12?a=1"
    assert misses.answer(scope("POST", "/api/posts//")).headers["location"] == "/api/posts"


def test_no_page_shares_a_path_with_an_api_route(misses):
    """Else a page's GET could be answered 405: RouteMisses sees every request Reflex gets."""
    import notifier_app.notifier_app as assembled

    for route in assembled.app._unevaluated_pages:
        path = "/" if route == "index" else "/" + re.sub(r"\[[^]]+\]", "1", route)
        assert misses.allowed_methods(scope("GET", path)) == [], path
        assert misses.answer(scope("GET", path)) is None, path
