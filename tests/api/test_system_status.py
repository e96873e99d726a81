"""System status over real HTTP (issue 6): GET /system/status and /system/status/stream
report connections per channel kind, events per second and events published per type.

Status is per process; the shared server runs one. Each test starts from an idle server
(no open stream) and from a quiet one (no event still on its way from an earlier module).
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests.api.helpers import Streams, wait_idle
from tests.support.client import (
    RawStream,
    create_comment,
    create_post,
    entity_params,
    send_chat,
    signup,
    system_status,
    update_entity,
    wait_until,
)

SAMPLE_EVERY = 2.0  # notifier_app.realtime.status.SAMPLE_EVERY_SECONDS


def room_name() -> str:
    return f"status-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def alice(base_url):
    return signup(base_url, "status-alice")


@pytest.fixture(scope="module")
def bob(base_url):
    return signup(base_url, "status-bob")


@pytest.fixture
def streams(base_url):
    wait_idle(base_url)
    s = Streams(base_url)
    yield s
    s.close_all()
    wait_idle(base_url)


def quiet_counts(base_url: str, quiet_for: float = 0.5, timeout: float = 10.0) -> dict:
    """eventsPublished once it has not changed for `quiet_for` seconds."""
    deadline = time.monotonic() + timeout
    last = system_status(base_url)["eventsPublished"]
    since = time.monotonic()
    while time.monotonic() - since < quiet_for:
        assert time.monotonic() < deadline, f"events kept being published for {timeout}s: {last}"
        time.sleep(0.1)
        now = system_status(base_url)["eventsPublished"]
        if now != last:
            last, since = now, time.monotonic()
    return last


def delta(before: dict, after: dict) -> dict:
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after) if after.get(k, 0) != before.get(k, 0)}


def chat(base_url: str, who, room: str, message: str) -> None:
    r = send_chat(base_url, who, room, message)
    assert r.status_code == 202, r.text


# -- the snapshot ------------------------------------------------------------------------


def test_status_is_public_and_has_every_field(base_url, streams):
    status = system_status(base_url)  # no credentials
    for key in ("connections", "streams", "users"):
        assert isinstance(status[key], int) and status[key] >= 0, (key, status)
    assert isinstance(status["connectionsByKind"], dict)
    assert isinstance(status["eventsPublished"], dict)
    assert all(isinstance(v, int) for v in status["eventsPublished"].values()), status
    assert isinstance(status["eventsPerSecond"], (int, float)) and status["eventsPerSecond"] >= 0
    assert isinstance(status["uptimeSeconds"], (int, float)) and status["uptimeSeconds"] > 0
    assert isinstance(status["tasks"], int) and status["tasks"] > 0, status  # the lifespan's own, at least
    # idle: no connection of any kind
    assert status["connections"] == 0 and status["streams"] == 0 and status["users"] == 0, status
    assert sum(status["connectionsByKind"].values()) == 0, status


def test_uptime_grows(base_url):
    first = system_status(base_url)["uptimeSeconds"]
    wait_until(lambda: system_status(base_url)["uptimeSeconds"] > first, 3, 0.1, "uptimeSeconds to grow")


def test_connections_by_kind_while_streams_are_open(base_url, alice, bob, streams):
    streams.open(alice)  # user
    streams.open(alice)  # user (second tab, same user)
    streams.open(bob)  # user
    for who in (alice, bob):  # room
        streams.open(who, path="/chat/stream", params={"room": room_name()})
    streams.open(alice, path="/realtime/stream", params=entity_params("post:1"))  # entity
    streams.open(bob, path="/realtime/stream", params=entity_params("post:1", "feed:posts"))  # one entity stream

    status = system_status(base_url)
    assert status["connectionsByKind"] == {"user": 3, "room": 2, "entity": 2}, status
    assert status["connections"] == 7, status
    assert status["streams"] == 7, status
    assert status["users"] == 2, "users with a notification stream"

    # Closing streams is reflected at once.
    streams.close_all()
    status = wait_idle(base_url)
    assert sum(status["connectionsByKind"].values()) == 0, status


def test_status_streams_count_as_streams_but_not_as_connections(base_url, streams):
    streams.open(path="/system/status/stream")
    status = system_status(base_url)
    assert status["streams"] == 1 and status["connections"] == 0, status


def test_events_published_counts_each_kind(base_url, alice, bob, streams):
    before = quiet_counts(base_url)
    room = room_name()
    for i in range(3):
        chat(base_url, alice, room, f"count {i}")
    for i in range(2):
        r = update_entity(base_url, bob, {"entityType": "doc", "entityId": f"count{i}", "action": "updated"})
        assert r.status_code == 202, r.text
    # Rejected input publishes nothing.
    assert send_chat(base_url, alice, room, "").status_code == 422
    assert update_entity(base_url, bob, {"entityType": "doc"}).status_code == 422
    assert delta(before, quiet_counts(base_url)) == {"chat.message": 3, "entity.update": 2}

    # The blog's own events: a post is a notification plus a feed update; a comment on
    # someone else's post a notification plus a post update.
    before = quiet_counts(base_url)
    post = create_post(base_url, alice, title="status")
    create_comment(base_url, bob, post["id"], "status comment")
    expected = {"post.created": 1, "comment.created": 1, "entity.update": 2}
    wait_until(lambda: delta(before, system_status(base_url)["eventsPublished"]) == expected, 10, 0.1,
               lambda: f"eventsPublished to grow by {expected}")


def test_events_per_second_rises_after_a_burst_and_falls_back(base_url, alice, streams):
    member = streams.open(alice, path="/chat/stream", params={"room": room_name()})
    room = member.params["room"]
    burst = 30
    for i in range(burst):
        chat(base_url, alice, room, f"burst {i}")
    member.collect(burst, 10)

    seen: list[float] = []

    def rate_positive():
        rate = system_status(base_url)["eventsPerSecond"]
        seen.append(rate)
        return rate > 0

    wait_until(rate_positive, 3 * SAMPLE_EVERY + 2, 0.1, lambda: f"eventsPerSecond > 0 (saw {sorted(set(seen))})")
    # ... and it is a rate, not a total: quiet again, it drops back to 0.
    wait_until(lambda: system_status(base_url)["eventsPerSecond"] == 0, 3 * SAMPLE_EVERY + 2, 0.2,
               "eventsPerSecond to fall back to 0 once quiet")


# -- the status stream --------------------------------------------------------------------


def test_status_stream_is_a_public_unbuffered_event_stream(base_url):
    raw = RawStream(base_url, path="/system/status/stream")
    try:
        assert raw.status == 200
        assert raw.headers["content-type"].startswith("text/event-stream")
        assert raw.headers["cache-control"] == "no-cache"
        assert raw.headers["x-accel-buffering"] == "no"
        raw.read_until(b"event: status", timeout=3)
    finally:
        raw.close()
    wait_idle(base_url)


def test_status_stream_sends_status_frames_that_follow_the_server(base_url, alice, streams):
    reader = streams.open(path="/system/status/stream")
    first = reader.next(3)
    assert first.event == "status"
    for key in ("connections", "connectionsByKind", "streams", "users", "eventsPublished", "eventsPerSecond",
                "uptimeSeconds"):
        assert key in first.data, (key, first.data)
    assert first.data["streams"] == 1, "the status stream itself"

    # A room stream opens: a later frame shows it.
    streams.open(alice, path="/chat/stream", params={"room": room_name()})
    deadline = time.monotonic() + 3 * SAMPLE_EVERY
    frames = []
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no status frame showed the room connection within {3 * SAMPLE_EVERY}s: {frames}"
        frame = reader.next(left)
        assert frame.event == "status"
        frames.append(frame.data)
        if frame.data["connectionsByKind"].get("room") == 1:
            break
    assert frames[-1]["streams"] == 2
    assert frames[-1]["uptimeSeconds"] > first.data["uptimeSeconds"]


def test_status_frames_keep_coming(base_url, streams):
    reader = streams.open(path="/system/status/stream")
    started = time.monotonic()
    frames = reader.collect(3, 3 * SAMPLE_EVERY + 2)
    assert all(f.event == "status" for f in frames)
    elapsed = time.monotonic() - started
    assert elapsed >= SAMPLE_EVERY - 0.5, f"frames came faster than every {SAMPLE_EVERY}s: {elapsed:.2f}s for 3"
