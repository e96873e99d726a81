"""Stream behaviour that needs a server of its own: a global stream cap, and a restart."""

from __future__ import annotations

import threading
import time

import pytest

from tests.api.helpers import Streams, assert_json_error, assert_no_traceback, opened, wait_idle
from tests.support.client import create_post, open_stream, signup, system_status, wait_in_inbox, wait_until
from tests.support.server import AppServer, fresh_database_url

GLOBAL_CAP = 3
STATUS_CAP = 2


def _own_server(tmp_path_factory, name: str, env: dict[str, str]):
    db_url = fresh_database_url(tmp_path_factory.mktemp(f"{name}-db"))
    server = AppServer(db_url=db_url, name=name, env=env)
    start = len(server.log_text()) if server.log_path.exists() else 0
    with server:
        yield server
    assert_no_traceback(server, start)


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory):
    env = {"NOTIFIER_MAX_STREAMS": str(GLOBAL_CAP), "NOTIFIER_MAX_STATUS_STREAMS": str(STATUS_CAP)}
    yield from _own_server(tmp_path_factory, "capped", env)


@pytest.fixture(scope="module")
def restart_server(tmp_path_factory):
    yield from _own_server(tmp_path_factory, "restart", {"NOTIFIER_MAX_STREAMS_PER_USER": "4"})


def test_global_cap_answers_503_with_retry_after_at_once(capped_server):
    url = capped_server.url
    alice, bob = signup(url, "cap-alice"), signup(url, "cap-bob")
    streams = Streams(url)
    try:
        first = streams.open(alice)
        streams.open(bob)
        streams.open(path="/system/status/stream")  # public streams count toward the cap too
        assert system_status(url)["streams"] == GLOBAL_CAP

        for path, headers in (
            ("/notifications/stream", alice.headers),
            ("/notifications/stream", bob.headers),
            ("/system/status/stream", {}),
        ):
            started = time.monotonic()
            with opened(url + path, headers=headers) as r:
                r.read()
                elapsed = time.monotonic() - started
            body = assert_json_error(r, 503)
            assert elapsed < 1.0, f"the refusal of {path} took {elapsed:.2f}s"
            assert int(r.headers["retry-after"]) > 0
            assert "limit" in body["detail"]

        # The streams that were admitted still work.
        post = create_post(url, bob)
        assert first.next(5).data["href"] == f"/posts/{post['id']}"

        # A freed slot can be taken again.
        first.close()
        streams.readers.remove(first)
        deadline = time.monotonic() + 3
        while system_status(url)["streams"] >= GLOBAL_CAP:
            assert time.monotonic() < deadline, "the closed stream's slot was not freed"
            time.sleep(0.05)
        streams.open(alice)
    finally:
        streams.close_all()
    wait_idle(url)


def test_public_status_streams_cannot_take_the_streams_users_need(capped_server):
    url = capped_server.url
    wait_idle(url)
    alice = signup(url, "cap-status")
    streams = Streams(url)
    try:
        watchers = [streams.open(path="/system/status/stream") for _ in range(STATUS_CAP)]
        with opened(url + "/system/status/stream") as r:
            r.read()
        body = assert_json_error(r, 429)
        assert int(r.headers["retry-after"]) > 0
        assert f"at most {STATUS_CAP}" in body["detail"] and "status" in body["detail"]

        mine = streams.open(alice)  # the slot the status streams left
        assert system_status(url)["streams"] == GLOBAL_CAP
        post = create_post(url, signup(url, "cap-status-poster"))
        assert mine.next(5).data["href"] == f"/posts/{post['id']}"

        # A status stream that closes frees its place for another.
        watchers[0].close()
        streams.readers.remove(watchers[0])
        mine.close()
        streams.readers.remove(mine)
        wait_until(lambda: system_status(url)["streams"] == STATUS_CAP - 1, 3, message="the slots to be freed")
        assert streams.open(path="/system/status/stream").next(5).event == "status"
    finally:
        streams.close_all()
    wait_idle(url)


def test_global_cap_holds_under_concurrent_connects(capped_server):
    url = capped_server.url
    wait_idle(url)
    users = [signup(url, f"cap-rush-{i}") for i in range(3)]
    barrier = threading.Barrier(10 * GLOBAL_CAP)
    readers, errors = [], []

    def go(i):
        try:
            barrier.wait(10)
            # resuming awaits the log between the cap check and taking the slot
            readers.append(open_stream(url, users[i % len(users)], headers={"Last-Event-ID": "1"}))
        except BaseException as exc:  # noqa: BLE001  reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,), daemon=True) for i in range(10 * GLOBAL_CAP)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    try:
        assert not errors, errors
        statuses = sorted(r.status for r in readers)
        assert len(statuses) == 10 * GLOBAL_CAP
        assert statuses.count(200) == GLOBAL_CAP, f"admitted {statuses.count(200)} streams: {statuses}"
        assert set(statuses) == {200, 503}, statuses
        assert system_status(url)["streams"] == GLOBAL_CAP
    finally:
        for r in readers:
            r.close()
    wait_idle(url)


def test_events_missed_across_a_restart_are_replayed_from_the_database(restart_server):
    url = restart_server.url
    alice, bob = signup(url, "restart-alice"), signup(url, "restart-bob")
    streams = Streams(url)
    try:
        tab = streams.open(alice)
        seen = create_post(url, bob, title="재시작 전, 읽음")
        event = tab.next(5)
        assert event.data["href"] == f"/posts/{seen['id']}"
        last = int(event.id)
        tab.close()

        before = create_post(url, bob, title="재시작 전, 놓침")
        wait_in_inbox(url, alice, f"/posts/{before['id']}")
        just_before = create_post(url, bob, title="종료 직전")  # its notification may still be in flight

        old_pid = restart_server.process.pid
        restart_server.restart()
        assert restart_server.process.pid != old_pid, "the server process must really be a new one"
        assert system_status(url)["eventsPublished"] == {}, "a fresh process has published nothing yet"

        after = [create_post(url, bob, title=f"재시작 후 {i}") for i in range(2)]
        wait_in_inbox(url, alice, f"/posts/{after[-1]['id']}")

        resumed = streams.open(alice, headers={"Last-Event-ID": str(last)})
        expected = [before, just_before, *after]
        got = resumed.collect(len(expected), 10)
        assert [e.data["href"] for e in got] == [f"/posts/{p['id']}" for p in expected]
        got_ids = [last, *(int(e.id) for e in got)]
        assert got_ids == sorted(set(got_ids)), f"ids must keep increasing across the restart: {got_ids}"
        assert all(e.data["type"] == "post.created" and e.data["author"]["id"] == str(bob.id) for e in got)

        live = create_post(url, bob, title="재시작 후, 실시간")
        assert resumed.next(5).data["href"] == f"/posts/{live['id']}"
        resumed.assert_silent(0.5)
    finally:
        streams.close_all()
