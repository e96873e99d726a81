"""GET /notifications/stream over real HTTP (issue 3): auth, fan-out, caps, heartbeats, replay.

The shared server runs with a 1 s heartbeat and at most 4 streams per user. Before each
test a barrier post is published and seen stored, so no event of an earlier test can
arrive late in this one, and the server is checked to hold no stream any more.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.api.helpers import Streams, assert_json_error, mint, opened, wait_idle
from tests.support.client import (
    RawStream,
    create_comment,
    create_post,
    inbox,
    open_stream,
    signup,
    system_status,
    wait_in_inbox,
    wait_until,
)

HEARTBEAT = 1.0
PER_USER_CAP = 4
SILENCE = 0.5  # a "must not receive" window; delivery to all streams happens in one pass


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sentinels(base_url):
    return signup(base_url, "sentinel-author"), signup(base_url, "sentinel-viewer")


@pytest.fixture(autouse=True)
def settled(base_url, sentinels):
    """Every event emitted so far is published (events publish in emit order); no stream is open."""
    author, viewer = sentinels
    post = create_post(base_url, author, title="barrier")
    wait_in_inbox(base_url, viewer, f"/posts/{post['id']}")
    wait_idle(base_url)


@pytest.fixture
def streams(base_url):
    s = Streams(base_url)
    yield s
    s.close_all()


@pytest.fixture(scope="module")
def alice(base_url):
    return signup(base_url, "alice")


@pytest.fixture(scope="module")
def bob(base_url):
    return signup(base_url, "bob")


def stream_url(base_url: str) -> str:
    return f"{base_url}/notifications/stream"


def post_href(post: dict) -> str:
    return f"/posts/{post['id']}"


def ids(events) -> list[int]:
    return [int(e.id) for e in events]


def assert_increasing(values: list[int]) -> None:
    assert all(a < b for a, b in zip(values, values[1:])), f"ids not strictly increasing: {values}"


# -- the response ----------------------------------------------------------------------


def test_stream_is_an_unbuffered_event_stream_starting_with_retry(base_url, alice):
    raw = RawStream(base_url, headers={"Authorization": f"Bearer {alice.token}"})
    try:
        assert raw.status == 200
        assert raw.headers["content-type"].startswith("text/event-stream")
        assert raw.headers["cache-control"] == "no-cache"
        assert raw.headers["x-accel-buffering"] == "no"
        body = raw.read_until(b"\n\n", timeout=3)
        assert body.split(b"\n\n")[0].split(b"\r\n")[-1].endswith(b"retry: 5000"), f"first frame: {body!r}"
    finally:
        raw.close()


def test_stream_reader_sees_retry_5000(base_url, alice, streams):
    reader = streams.open(alice)
    assert reader.response_headers["content-type"].startswith("text/event-stream")
    wait_until(lambda: reader.retry is not None, 3, message="the retry: field")
    assert reader.retry == 5000


def test_token_via_bearer_cookie_and_query(base_url, alice, bob, streams):
    by_header = streams.open(alice)
    by_cookie = streams.open(headers={"Cookie": f"access_token={alice.token}"})
    by_query = streams.open(params={"token": alice.token})
    post = create_post(base_url, alice, title="내 글")
    comment = create_comment(base_url, bob, post["id"], "댓글이요")
    for reader in (by_header, by_cookie, by_query):
        event = reader.next(5)
        assert event.data["type"] == "comment.created", "each stream must belong to alice"
        assert event.data["href"] == f"/posts/{post['id']}#comment-{comment['id']}"


UNAUTHORIZED = {
    "no-token": lambda a: {},
    "garbage-bearer": lambda a: {"headers": {"Authorization": "Bearer nonsense"}},
    "expired-bearer": lambda a: {"headers": {"Authorization": f"Bearer {mint(a.id, ttl=-5)}"}},
    "wrong-secret-bearer": lambda a: {"headers": {"Authorization": f"Bearer {mint(a.id, secret='s' * 40)}"}},
    "expired-cookie": lambda a: {"headers": {"Cookie": f"access_token={mint(a.id, ttl=-5)}"}},
    "expired-query": lambda a: {"params": {"token": mint(a.id, ttl=-5)}},
    "garbage-query": lambda a: {"params": {"token": "x.y.z"}},
    "unknown-user": lambda a: {"params": {"token": mint(10**9)}},
}


@pytest.mark.parametrize("case", list(UNAUTHORIZED))
def test_unauthorized_stream_is_401_json_not_a_stream(base_url, alice, case):
    with opened(stream_url(base_url), **UNAUTHORIZED[case](alice)) as r:
        r.read()
        assert_json_error(r, 401)
        assert not r.headers["content-type"].startswith("text/event-stream")


# Stream connects skip the framework stacks (api/hot_paths.py): what the stacks did for
# them — CORS, JSON errors, other methods — must be the same as for every other path.
EVIL_ORIGIN = "http://evil.example"


def test_a_stream_answers_cors_like_every_other_path(base_url, alice):
    for path in ("/notifications/stream", "/system/status/stream"):
        raw = RawStream(base_url, path, headers={"Authorization": f"Bearer {alice.token}", "Origin": base_url})
        try:
            assert raw.status == 200, path
            assert raw.headers.get("access-control-allow-origin") == base_url, (path, raw.headers)
            assert raw.headers.get("access-control-allow-credentials") == "true", (path, raw.headers)
            assert raw.read_until(b"retry: 5000", timeout=3)
        finally:
            raw.close()
        foreign = RawStream(base_url, path, headers={"Authorization": f"Bearer {alice.token}", "Origin": EVIL_ORIGIN})
        try:
            assert foreign.status == 200, path
            assert "access-control-allow-origin" not in foreign.headers, (path, foreign.headers)
        finally:
            foreign.close()
    refused = httpx.get(stream_url(base_url), headers={"Origin": base_url})
    assert_json_error(refused, 401)
    assert refused.headers.get("access-control-allow-origin") == base_url  # the page may read why
    assert refused.headers["www-authenticate"] == "Bearer"


def test_other_methods_on_a_stream_path_are_answered_by_the_stacks(base_url, alice):
    for method in ("POST", "DELETE"):
        r = httpx.request(method, stream_url(base_url), headers={"Authorization": f"Bearer {alice.token}"})
        assert_json_error(r, 405)  # (api/misses.py)
        assert r.headers["allow"] == "GET"
    preflight = httpx.options(
        stream_url(base_url), headers={"Origin": base_url, "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == base_url
    assert httpx.get(f"{stream_url(base_url)}/", headers={"Authorization": f"Bearer {alice.token}"}).status_code != 200


def test_stream_ends_when_the_token_expires(base_url, alice, streams):
    reader = streams.open(params={"token": mint(alice.id, ttl=2)})
    deadline = time.monotonic() + 2 + 3 * HEARTBEAT + 2
    with pytest.raises(EOFError):
        while time.monotonic() < deadline:
            reader.next(max(deadline - time.monotonic(), 0.01))
    # and the slot is released: the server is idle again
    wait_idle(base_url)


# -- who hears of what -----------------------------------------------------------------


def test_post_reaches_every_stream_of_other_users_but_not_the_author(base_url, alice, bob, streams):
    alice_tabs = [streams.open(alice) for _ in range(3)]
    bob_tab = streams.open(bob)
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    post = create_post(base_url, bob, title="세 탭 모두에게")
    received = [tab.next(5) for tab in alice_tabs]
    assert len({(e.id, e.raw) for e in received}) == 1, f"tabs got different frames: {received}"
    bob_tab.assert_silent(SILENCE)

    event = received[0]
    assert event.id.isdigit()
    data = event.data
    assert set(data) == {"id", "type", "title", "message", "href", "createdAt", "author"}
    assert str(uuid.UUID(data["id"])) == data["id"]
    assert data["type"] == "post.created"
    assert data["title"] == "새 게시글"
    assert data["message"] == f'{bob.nickname}님이 "세 탭 모두에게" 글을 작성했어요.'
    assert data["href"] == post_href(post)
    assert data["author"] == {"id": str(bob.id), "nickname": bob.nickname}
    assert data["createdAt"].endswith("Z")
    created = datetime.fromisoformat(data["createdAt"].replace("Z", "+00:00"))
    assert before < created < datetime.now(timezone.utc) + timedelta(seconds=5)


def test_comments_reach_the_post_author_only_and_self_comments_nobody(base_url, alice, bob, streams):
    alice_tabs = [streams.open(alice) for _ in range(3)]
    bob_tab = streams.open(bob)

    post = create_post(base_url, alice, title="앨리스의 글")
    assert bob_tab.next(5).data["href"] == post_href(post)

    content = "가나다라마바사아자차카타파하" * 5  # 70 characters: the message keeps the first 50
    comment = create_comment(base_url, bob, post["id"], content)
    received = [tab.next(5) for tab in alice_tabs]  # alice's own post never reached her tabs
    assert len({(e.id, e.raw) for e in received}) == 1
    data = received[0].data
    assert data["type"] == "comment.created"
    assert data["title"] == "새 댓글"
    assert data["message"] == f"{bob.nickname}님: {content[:50]}"
    assert data["href"] == f"/posts/{post['id']}#comment-{comment['id']}"
    assert data["author"] == {"id": str(bob.id), "nickname": bob.nickname}
    assert str(uuid.UUID(data["id"])) == data["id"]
    bob_tab.assert_silent(SILENCE)

    # Alice comments on her own post: nobody hears of it. Events go out in the order they
    # happen, so the next event each side gets must be the marker that follows it.
    create_comment(base_url, alice, post["id"], "내 글에 내 댓글")
    marker = create_comment(base_url, bob, post["id"], "표시")
    for tab in alice_tabs:
        assert tab.next(5).data["href"] == f"/posts/{post['id']}#comment-{marker['id']}"
    other_post = create_post(base_url, alice, title="표시 글")
    assert bob_tab.next(5).data["href"] == post_href(other_post), "bob must get neither comment"


def test_a_comment_on_someone_elses_post_does_not_reach_third_users(base_url, alice, bob, streams):
    carol = signup(base_url, "carol")
    carol_tab = streams.open(carol)
    alice_tab = streams.open(alice)
    post = create_post(base_url, alice)
    assert carol_tab.next(5).data["href"] == post_href(post)
    create_comment(base_url, bob, post["id"], "앨리스에게만")
    assert alice_tab.next(5).data["type"] == "comment.created"
    carol_tab.assert_silent(SILENCE)


def test_event_ids_are_numbers_that_increase(base_url, alice, bob, streams):
    tab = streams.open(alice)
    posts = [create_post(base_url, bob, title=f"순번 {i}") for i in range(4)]
    events = tab.collect(4, 10)
    assert [e.data["href"] for e in events] == [post_href(p) for p in posts]
    assert_increasing(ids(events))


# -- caps and dead connections -----------------------------------------------------------


def test_a_fifth_stream_for_one_user_is_refused_with_429(base_url, alice, bob, streams):
    for _ in range(PER_USER_CAP):
        streams.open(alice)
    started = time.monotonic()
    with opened(stream_url(base_url), headers={"Authorization": f"Bearer {alice.token}"}) as r:
        r.read()
        body = assert_json_error(r, 429)
    assert time.monotonic() - started < 2, "a refused stream must not wait"
    assert str(PER_USER_CAP) in body["detail"]
    assert int(r.headers["retry-after"]) > 0
    # the cap is per user: bob is not affected
    streams.open(bob)


def _open_concurrently(count: int, open_one) -> list:
    """Open `count` streams at the same instant from as many threads; returns the readers."""
    barrier = threading.Barrier(count)
    readers, errors = [], []

    def go():
        try:
            barrier.wait(10)
            readers.append(open_one())
        except BaseException as exc:  # noqa: BLE001  reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not any(t.is_alive() for t in threads), "a connect hung"
    assert not errors, errors
    return readers


def test_per_user_cap_holds_under_concurrent_connects(base_url, alice):
    # Resuming makes the server await the log between its cap check and taking the slot.
    newest = inbox(base_url, alice, limit=1)["items"]
    resume = {"Last-Event-ID": str(newest[0]["seq"] if newest else 1)}
    readers = _open_concurrently(3 * PER_USER_CAP, lambda: open_stream(base_url, alice, headers=resume))
    try:
        statuses = sorted(r.status for r in readers)
        assert statuses.count(200) == PER_USER_CAP, f"admitted {statuses.count(200)} streams: {statuses}"
        assert set(statuses) == {200, 429}, statuses
        assert system_status(base_url)["streams"] == PER_USER_CAP
    finally:
        for r in readers:
            r.close()


def test_dead_connections_are_freed_within_a_couple_of_heartbeats(base_url, alice, bob):
    auth = {"Authorization": f"Bearer {alice.token}"}
    for round_, end in (("reset", RawStream.abort), ("close", RawStream.close)):
        raws = [RawStream(base_url, headers=auth) for _ in range(PER_USER_CAP)]
        for raw in raws:
            assert raw.status == 200, f"{round_}: stream refused with {raw.status}"
            raw.read_until(b"retry:", 3)
        status = system_status(base_url)
        assert status["streams"] == PER_USER_CAP and status["connections"] == PER_USER_CAP, status
        for raw in raws:
            end(raw)
        started = time.monotonic()
        wait_idle(base_url, timeout=2 * HEARTBEAT + 1)
        freed_after = time.monotonic() - started
        assert freed_after < 2 * HEARTBEAT + 1, f"{round_}: freed after {freed_after:.1f}s"

    # and alice can open her full quota again, and it works
    again = Streams(base_url)
    try:
        tabs = [again.open(alice) for _ in range(PER_USER_CAP)]
        post = create_post(base_url, bob)
        for tab in tabs:
            assert tab.next(5).data["href"] == post_href(post)
    finally:
        again.close_all()


def test_status_counts_follow_streams(base_url, alice, bob, streams):
    a1, a2 = streams.open(alice), streams.open(alice)
    streams.open(bob)
    status = system_status(base_url)
    assert status["connections"] == 3 and status["streams"] == 3 and status["users"] == 2, status
    a1.close()
    wait_until(lambda: system_status(base_url)["connections"] == 2, 3, message="connections back to 2")
    a2.close()
    status = wait_until(
        lambda: (s := system_status(base_url))["connections"] == 1 and s, 3, message="alice's key removed"
    )
    assert status["users"] == 1, "the user's registry key goes with the last connection"


# -- heartbeat ---------------------------------------------------------------------------


def test_keep_alive_comments_while_idle(base_url, alice):
    """A raw client sees `: keep-alive` within ~2 s (heartbeat 1 s), and again after that."""
    started = time.monotonic()
    seen, keep_alives = [], []
    with httpx.Client(timeout=httpx.Timeout(5.0, read=3.0)) as client, client.stream(
        "GET", stream_url(base_url), headers=alice.headers
    ) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            seen.append(line)
            if line == ": keep-alive":
                keep_alives.append(time.monotonic() - started)
                if len(keep_alives) == 2:
                    break
            assert time.monotonic() - started < 3 * HEARTBEAT + 0.5, f"too few keep-alives; got {seen}"
    assert seen[0] == "retry: 5000", seen
    assert keep_alives[0] < 2 * HEARTBEAT, f"first keep-alive after {keep_alives[0]:.2f}s"
    assert keep_alives[1] - keep_alives[0] < 2 * HEARTBEAT, f"keep-alives at {keep_alives}"
    assert [line for line in seen if line and not line.startswith((":", "retry:"))] == [], "alice got no event"


# -- resuming: Last-Event-ID -------------------------------------------------------------


def _first_session(base_url, streams, alice, bob, count=2):
    """alice reads `count` of bob's posts, then closes the stream: returns the last id seen."""
    tab = streams.open(alice)
    posts = [create_post(base_url, bob, title=f"먼저 {i}") for i in range(count)]
    events = tab.collect(count, 10)
    assert [e.data["href"] for e in events] == [post_href(p) for p in posts]
    tab.close()
    return int(events[-1].id)


@pytest.mark.parametrize("via", ["header", "query"])
def test_reconnect_with_last_event_id_replays_what_was_missed(base_url, alice, bob, streams, via):
    last = _first_session(base_url, streams, alice, bob)
    missed = [create_post(base_url, bob, title=f"놓친 글 {i}") for i in range(5)]
    wait_in_inbox(base_url, alice, post_href(missed[-1]))  # all stored while alice was away

    kw = {"headers": {"Last-Event-ID": str(last)}} if via == "header" else {"params": {"lastEventId": str(last)}}
    tab = streams.open(alice, **kw)
    replayed = tab.collect(len(missed), 10)
    assert [e.data["href"] for e in replayed] == [post_href(p) for p in missed]
    assert_increasing([last, *ids(replayed)])

    live = create_post(base_url, bob, title="실시간")
    event = tab.next(5)
    assert event.data["href"] == post_href(live), "no duplicate may come between replay and live events"
    assert int(event.id) > int(replayed[-1].id)
    tab.assert_silent(SILENCE)


def test_streams_resuming_at_once_each_replay_exactly_their_own_history(base_url, alice, bob, streams):
    """Resumes that arrive together are read together (realtime/feeds.py): each stream
    still gets its own user's notifications after its own Last-Event-ID, as the inbox has them."""
    carol = signup(base_url, "carol-resume")
    last = _first_session(base_url, streams, alice, bob, count=1)
    alice_post = create_post(base_url, alice, title="앨리스의 글")  # carol and bob hear of it
    carol_post = create_post(base_url, carol, title="캐롤의 글")  # alice and bob
    create_post(base_url, bob, title="모두에게")  # alice and carol
    create_comment(base_url, bob, alice_post["id"], "앨리스에게만")
    to_carol = create_comment(base_url, bob, carol_post["id"], "캐롤에게만")
    wait_in_inbox(base_url, carol, f"{post_href(carol_post)}#comment-{to_carol['id']}")

    def stored_after(who, after):
        return sorted(i["seq"] for i in inbox(base_url, who, limit=100)["items"] if i["seq"] > after)

    alice_missed = stored_after(alice, last)
    middle = alice_missed[0]  # a second tab of alice's that had seen one more
    wanted = [(alice, last), (carol, last), (alice, middle), (carol, 0)]
    with ThreadPoolExecutor(len(wanted)) as pool:
        tabs = list(pool.map(lambda w: open_stream(base_url, w[0], headers={"Last-Event-ID": str(w[1])}), wanted))
    streams.readers.extend(tabs)

    for tab, (who, after) in zip(tabs, wanted):
        expected = stored_after(who, after)
        assert len(expected) >= 2, f"the test needs history for {who.nickname} after {after}"
        got = tab.collect(len(expected), 10)
        assert ids(got) == expected, f"{who.nickname} resuming after {after}"
        tab.assert_silent(SILENCE)


def test_reconnect_while_events_are_being_published_loses_and_repeats_nothing(base_url, alice, bob, streams):
    last = _first_session(base_url, streams, alice, bob)
    created: list[dict] = [create_post(base_url, bob, title=f"부재 중 {i}") for i in range(3)]
    all_events = []
    for round_ in range(3):
        started = threading.Event()
        failure: list[BaseException] = []

        def publish_burst(round_=round_):
            try:
                for i in range(8):
                    created.append(create_post(base_url, bob, title=f"동시 {round_}-{i}"))
                    started.set()
            except BaseException as exc:  # noqa: BLE001  reported below
                failure.append(exc)
                started.set()

        worker = threading.Thread(target=publish_burst, daemon=True)
        worker.start()
        assert started.wait(5), "the publisher thread did not start"
        tab = streams.open(alice, headers={"Last-Event-ID": str(last)})
        worker.join(10)
        assert not worker.is_alive(), "the publisher thread did not finish"
        assert not failure, failure
        expected = len(created) - len(all_events)
        got = tab.collect(expected, 15)
        tab.assert_silent(SILENCE)
        tab.close()
        all_events += got
        last = int(got[-1].id)

    hrefs = [e.data["href"] for e in all_events]
    assert len(hrefs) == len(set(hrefs)), "an event arrived twice"
    assert hrefs == [post_href(p) for p in created], "every event exactly once, in publication order"
    assert_increasing(ids(all_events))


def test_back_to_back_publishes_reach_every_stream_once_in_order(base_url, alice, bob, streams):
    """Publishes that overlap a fan-out still being written are gathered (realtime/writes.py):
    whether they are or not, every stream gets each event once, in seq order."""
    carol = signup(base_url, "carol-burst")
    tabs = [streams.open(user) for user in (alice, carol) for _ in range(PER_USER_CAP)]
    created: list[dict] = []
    failure: list[BaseException] = []
    lock = threading.Lock()

    def publish(worker: int) -> None:
        try:
            for i in range(10):
                post = create_post(base_url, bob, title=f"연속 {worker}-{i}")
                with lock:
                    created.append(post)
        except BaseException as exc:  # noqa: BLE001  reported below
            failure.append(exc)

    workers = [threading.Thread(target=publish, args=(w,), daemon=True) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
        assert not w.is_alive(), "a publisher thread did not finish"
    assert not failure, failure
    expected = {post_href(p) for p in created}
    for tab in tabs:
        got = tab.collect(len(created), 15)
        tab.assert_silent(SILENCE)
        hrefs = [e.data["href"] for e in got]
        assert len(hrefs) == len(set(hrefs)) and set(hrefs) == expected, "every event exactly once"
        assert_increasing(ids(got))
    gathered = system_status(base_url)["gatheredWrites"]
    assert 0 <= gathered["writes"] <= gathered["frames"], gathered


@pytest.mark.parametrize("value", ["abc", "-1", "12abc", "1.5", "9" * 30])
def test_unusable_last_event_id_is_a_fresh_connect(base_url, alice, bob, streams, value):
    _first_session(base_url, streams, alice, bob, count=1)
    tab = streams.open(alice, headers={"Last-Event-ID": value})
    post = create_post(base_url, bob, title="새로 연결")
    event = tab.next(5)
    assert event.data["href"] == post_href(post), f"Last-Event-ID {value!r} must not replay history"


@pytest.mark.parametrize(
    "via, value",
    [("header", "\u00b2"), ("header", "\u00b9\u00b2"), ("query", "\u00b2"), ("query", "\u0661\u0662")],
    ids=["header-superscript-2", "header-superscript-12", "query-superscript-2", "query-arabic-12"],
)
def test_non_ascii_digits_in_last_event_id_are_a_fresh_connect_not_500(base_url, alice, via, value):
    # str.isdigit() is true for these, int() refuses some of them: the server must not choke.
    if via == "header":  # a header carries latin-1 bytes
        kw = {"headers": {"Authorization": f"Bearer {alice.token}", "Last-Event-ID": value.encode("latin-1")}}
    else:
        kw = {"headers": alice.headers, "params": {"lastEventId": value}}
    with opened(stream_url(base_url), **kw) as r:
        assert r.status_code == 200, r.read()[:300]
        assert r.headers["content-type"].startswith("text/event-stream")


def test_user_content_cannot_forge_sse_frames(base_url, alice, bob, streams):
    tab = streams.open(alice)
    title = 'x\n\nid: 999999\nevent: stream.reset\ndata: {"type":"forged"}\r\n\r\ny\u2028z\u0085w'
    post = create_post(base_url, bob, title=title)
    event = tab.next(5)
    assert event.data["href"] == post_href(post)
    assert event.data["message"] == f'{bob.nickname}님이 "{title}" 글을 작성했어요.'
    assert event.event in ("", "message"), "user content must not set the event type"
    assert int(event.id) < 999999
    tab.assert_silent(SILENCE)


def test_last_event_id_ahead_of_the_log_gets_a_reset_first(base_url, alice, bob, streams):
    tab = streams.open(alice, headers={"Last-Event-ID": str(10**15)})
    reset = tab.next(5)
    assert reset.data["type"] == "stream.reset", reset
    assert str(uuid.UUID(reset.data["id"])) == reset.data["id"]
    assert {"title", "message", "href", "createdAt"} <= set(reset.data)
    post = create_post(base_url, bob, title="리셋 뒤")
    event = tab.next(5)
    assert event.data["href"] == post_href(post), "live events follow the reset, without old history"
    assert event.id.isdigit()


def test_query_last_event_id_when_header_is_absent_and_header_wins_when_both(base_url, alice, bob, streams):
    last = _first_session(base_url, streams, alice, bob, count=1)
    missed = create_post(base_url, bob, title="하나 놓침")
    wait_in_inbox(base_url, alice, post_href(missed))
    tab = streams.open(alice, headers={"Last-Event-ID": str(last)}, params={"lastEventId": str(10**15)})
    assert tab.next(5).data["href"] == post_href(missed), "the Last-Event-ID header takes precedence"


# -- system status -----------------------------------------------------------------------


def test_system_status_shape_and_event_counts(base_url, alice, bob, streams):
    status = system_status(base_url)
    assert isinstance(status["connections"], int) and isinstance(status["users"], int)
    assert isinstance(status["uptimeSeconds"], (int, float)) and status["uptimeSeconds"] >= 0
    published = status["eventsPublished"]
    assert isinstance(published, dict) and all(isinstance(v, int) for v in published.values())
    assert published.get("post.created", 0) >= 1, "barrier posts were published"

    post = create_post(base_url, alice)
    comment = create_comment(base_url, bob, post["id"], "세기")
    create_comment(base_url, alice, post["id"], "자기 댓글은 세지 않음")
    wait_in_inbox(base_url, alice, f"/posts/{post['id']}#comment-{comment['id']}")
    after = system_status(base_url)["eventsPublished"]
    assert after["post.created"] == published.get("post.created", 0) + 1
    assert after["comment.created"] == published.get("comment.created", 0) + 1


def test_system_status_stream_sends_status_frames(base_url, alice, streams):
    streams.open(alice)
    tab = streams.open(path="/system/status/stream")
    assert tab.response_headers["content-type"].startswith("text/event-stream")
    first = tab.next(5)
    assert first.event == "status"
    assert {"connections", "users", "eventsPublished", "uptimeSeconds"} <= set(first.data)
    assert first.data["connections"] == 1 and first.data["users"] == 1
    second = tab.next(5)
    assert second.event == "status", "status frames keep coming"
