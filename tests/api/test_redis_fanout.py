"""Issue 5: with Redis, several backend processes share fan-out; a Redis outage loses nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.support.client import create_post, open_stream, signup
from tests.support.redis_server import RedisServer
from tests.support.server import AppServer, fresh_database_url


@pytest.fixture(scope="module")
def redis_server():
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def workers(redis_server, tmp_path_factory):
    """Two backend processes on their own ports sharing one database and one Redis."""
    db_url = fresh_database_url(tmp_path_factory.mktemp("fanout"))
    env = {"REFLEX_REDIS_URL": redis_server.url, "GRANIAN_WORKERS": "1"}
    first = AppServer(db_url=db_url, env=env, name="worker1").start()
    second = AppServer(db_url=db_url, env=env, name="worker2").start()
    yield first, second
    for server in (first, second):
        server.stop()
        assert "Traceback" not in server.log_text(), server.log_tail(60)


def titles(events) -> list[str]:
    return [e.data["message"] for e in events]


def test_a_post_on_one_worker_reaches_subscribers_on_all(workers):
    first, second = workers
    alice, bob = signup(first.url, "alice"), signup(first.url, "bob")
    on_first, on_second = open_stream(first.url, alice), open_stream(second.url, alice)
    bob_stream = open_stream(first.url, bob)
    try:
        create_post(second.url, bob, title="두 번째 워커에서")
        create_post(first.url, bob, title="첫 번째 워커에서")
        for stream in (on_first, on_second):
            events = stream.collect(2)
            assert [e.data["type"] for e in events] == ["post.created"] * 2
            assert "두 번째 워커에서" in events[0].data["message"] and "첫 번째 워커에서" in events[1].data["message"]
            assert int(events[0].id) < int(events[1].id)
            stream.assert_silent(0.5)  # exactly once: nothing more
        bob_stream.assert_silent(0.3)  # the author hears nothing of his own posts
    finally:
        for stream in (on_first, on_second, bob_stream):
            stream.close()


def test_redis_outage_loses_nothing(workers, redis_server):
    first, second = workers
    alice, bob = signup(first.url, "alice"), signup(first.url, "bob")
    stream = open_stream(first.url, alice)
    try:
        create_post(second.url, bob, title="장애 전")
        assert "장애 전" in stream.next(5).data["message"]

        redis_server.stop()
        # Pages and the API keep answering; the post is stored; worker 1 reads it from the log.
        assert httpx.get(f"{second.url}/api/posts", timeout=5).status_code == 200
        create_post(second.url, bob, title="장애 중")
        assert "장애 중" in stream.next(10).data["message"]

        redis_server.start()
        create_post(second.url, bob, title="복구 후")
        assert "복구 후" in stream.next(15).data["message"]
        stream.assert_silent(1.0)  # and no duplicates of any of them
    finally:
        stream.close()
    for server in workers:
        text = server.log_text()
        assert "redis: connection lost" in text and "redis: reconnected" in text, server.log_tail(30)
