"""StreamHandoff: an open stream runs outside the middleware chain, on a slimmed scope."""

from __future__ import annotations

import asyncio

import pytest

from notifier_app.config import SERVER_ACCESS_LOG
from notifier_app.realtime.registry import SubscriptionClosed
from notifier_app.realtime.streams import EventStream, StreamHandoff, StreamLimits
from tests.unit.conftest import run


def server_scope() -> dict:
    """What granian passes for a stream request (plus what Starlette adds)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 3000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": "/notifications/stream",
        "raw_path": b"/notifications/stream",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:3000"), (b"authorization", b"Bearer " + b"x" * 200)],
        "state": {"ready": True},
        "app": object(),
    }


def stream_scope_while_running(scope: dict) -> tuple[dict, list[dict], StreamLimits]:
    """Hand a stream off and end it; what the scope held while it ran, what was sent."""
    seen: dict = {}
    limits = StreamLimits()

    class Feed:
        def wait(self, timeout: float) -> None:
            return None

        def take_frame(self) -> bytes | None:
            seen.update(scope)  # while the stream runs
            raise SubscriptionClosed

        def close(self) -> None:
            pass

    async def chain(inner, receive, send):  # the framework: routing, auth, ... then the response
        assert inner["headers"] == scope["headers"]
        await EventStream(Feed(), heartbeat=15, retry_ms=5000, limits=limits, slot="u")(inner, receive, send)

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        await asyncio.Event().wait()  # the client stays

    run(StreamHandoff(chain)(scope, receive, send))
    return seen, sent, limits


@pytest.mark.parametrize("access_log", [None, "1"])  # None: a server other than ours (serving.py)
def test_a_handed_off_stream_keeps_of_the_scope_only_what_the_access_log_reads(monkeypatch, access_log):
    if access_log is None:
        monkeypatch.delenv(SERVER_ACCESS_LOG, raising=False)
    else:
        monkeypatch.setenv(SERVER_ACCESS_LOG, access_log)
    seen, sent, limits = stream_scope_while_running(server_scope())
    assert set(seen) == {"type", "http_version", "scheme", "method", "path", "query_string", "client", "headers"}
    assert seen["headers"] == ()
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body", "http.response.body"]
    assert sent[0]["status"] == 200 and sent[1]["body"].startswith(b"retry: 5000")
    assert limits.total == 0  # the slot was released when the stream ended


def test_without_an_access_log_a_handed_off_stream_keeps_none_of_the_scope(monkeypatch):
    monkeypatch.setenv(SERVER_ACCESS_LOG, "0")  # what our server says when its log is off
    seen, sent, limits = stream_scope_while_running(server_scope())
    assert seen == {}
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body", "http.response.body"]
    assert limits.total == 0
