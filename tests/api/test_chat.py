"""Chat rooms over real HTTP (issue 6): GET /chat/stream?room=<name>, POST /chat/send.

Every test uses rooms of its own (a fresh name), so the kept history of one test never
shows up in another. Sending is synchronous up to the fan-out (the 202 comes after the
message reached every member's buffer), so "must not receive" checks need only a short
silence window.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.api.helpers import Streams, assert_json_error, opened, wait_idle
from tests.support.client import RawStream, http, send_chat, signup

HISTORY = 50
SILENCE = 0.5


def new_room(prefix: str = "room") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def alice(base_url):
    return signup(base_url, "chat-alice")


@pytest.fixture(scope="module")
def bob(base_url):
    return signup(base_url, "chat-bob")


@pytest.fixture(scope="module")
def carol(base_url):
    return signup(base_url, "chat-carol")


@pytest.fixture
def streams(base_url):
    s = Streams(base_url)
    yield s
    s.close_all()
    wait_idle(base_url)


def join(streams: Streams, who, room: str, **kw):
    params = {"room": room, **kw.pop("params", {})}
    return streams.open(who, path="/chat/stream", params=params, **kw)


def sent(base_url: str, who, room: str, message: str) -> int:
    """Send a chat message; its id (202 {id})."""
    r = send_chat(base_url, who, room, message)
    assert r.status_code == 202, f"chat send answered {r.status_code}: {r.text}"
    body = r.json()
    assert set(body) == {"id"} and isinstance(body["id"], int), body
    return body["id"]


# -- rooms, auth, headers ------------------------------------------------------------


def test_default_rooms_are_listed(base_url):
    r = httpx.get(f"{base_url}/api/chat/rooms", timeout=5)
    assert r.status_code == 200, r.text
    rooms = r.json()["rooms"]
    assert {"general", "random", "dev"} <= set(rooms), rooms
    assert len(rooms) == len(set(rooms))


def test_stream_and_send_need_authentication(base_url):
    room = new_room()
    with opened(f"{base_url}/chat/stream", params={"room": room}) as r:
        r.read()
        assert_json_error(r, 401)
        assert not r.headers["content-type"].startswith("text/event-stream")
    with opened(f"{base_url}/chat/stream", params={"room": room, "token": "not-a-token"}) as r:
        r.read()
        assert_json_error(r, 401)
    assert_json_error(send_chat(base_url, None, room, "hello"), 401)
    assert_json_error(
        httpx.post(f"{base_url}/chat/send", json={"roomId": room, "message": "hi"},
                   headers={"Authorization": "Bearer nonsense"}, timeout=5),
        401,
    )


def test_chat_stream_has_the_notification_stream_headers(base_url, alice):
    raw = RawStream(base_url, path=f"/chat/stream?room={new_room()}", headers=alice.headers)
    try:
        assert raw.status == 200
        assert raw.headers["content-type"].startswith("text/event-stream")
        assert raw.headers["cache-control"] == "no-cache"
        assert raw.headers["x-accel-buffering"] == "no"
        raw.read_until(b"retry: 5000", timeout=3)
        raw.read_until(b": keep-alive", timeout=3)  # the shared 1 s heartbeat
    finally:
        raw.close()
    wait_idle(base_url)


def test_token_in_the_query_or_cookie_works_for_chat(base_url, alice, streams):
    room = new_room()
    by_query = join(streams, None, room, params={"token": alice.token})
    by_cookie = join(streams, None, room, headers={"Cookie": f"access_token={alice.token}"})
    message_id = sent(base_url, alice, room, "via query and cookie")
    for reader in (by_query, by_cookie):
        event = reader.next(5)
        assert event.id == str(message_id)
        assert event.data["message"] == "via query and cookie"


# -- delivery --------------------------------------------------------------------------


def test_members_of_the_room_get_the_message_and_other_rooms_do_not(base_url, alice, bob, carol, streams):
    room, other = new_room(), new_room()
    alice_tab, bob_tab = join(streams, alice, room), join(streams, bob, room)
    carol_tab = join(streams, carol, other)

    before = datetime.now(UTC) - timedelta(seconds=5)
    message_id = sent(base_url, bob, room, "  안녕하세요, 여러분  ")
    received = [alice_tab.next(5), bob_tab.next(5)]  # the sender is a member too
    assert received[0].raw == received[1].raw
    for event in received:
        assert event.id == str(message_id), "the SSE id is the message id"
        data = event.data
        assert set(data) == {"roomId", "message", "author", "createdAt"}, data
        assert data["roomId"] == room
        assert data["message"] == "안녕하세요, 여러분"  # surrounding whitespace trimmed
        assert data["author"] == {"id": str(bob.id), "nickname": bob.nickname}
        assert data["createdAt"].endswith("Z")
        created = datetime.fromisoformat(data["createdAt"])
        assert before < created < datetime.now(UTC) + timedelta(seconds=5)
    carol_tab.assert_silent(SILENCE)

    # The other room's next message is the first thing its member gets.
    marker = sent(base_url, alice, other, "marker")
    assert carol_tab.next(5).id == str(marker)
    alice_tab.assert_silent(SILENCE)


def test_one_user_in_two_rooms_and_two_tabs(base_url, alice, bob, streams):
    room_a, room_b = new_room(), new_room()
    tab1, tab2 = join(streams, alice, room_a), join(streams, alice, room_a)
    tab3 = join(streams, alice, room_b)
    first = sent(base_url, bob, room_a, "to a")
    second = sent(base_url, bob, room_b, "to b")
    assert tab1.next(5).id == tab2.next(5).id == str(first)
    assert tab3.next(5).id == str(second)
    for tab in (tab1, tab2, tab3):
        tab.assert_silent(0.3)


def test_concurrent_senders_lose_no_message(base_url, alice, bob, carol, streams):
    """Messages sent at the same instant all reach a member (publish order may differ from id order)."""
    room = new_room()
    member = join(streams, carol, room)
    senders = [alice, bob] * 12
    barrier = threading.Barrier(len(senders))
    ids: list[int] = []
    errors: list[BaseException] = []

    def go(i, who):
        try:
            barrier.wait(5)
            ids.append(sent(base_url, who, room, f"concurrent {i}"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i, who)) for i, who in enumerate(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors, errors
    events = member.collect(len(senders), 10)
    assert sorted(int(e.id) for e in events) == sorted(ids)
    member.assert_silent(0.3)


# -- history ---------------------------------------------------------------------------


def test_joining_replays_the_newest_50_messages_in_order(base_url, alice, bob, streams):
    room = new_room()
    ids = [sent(base_url, alice if i % 2 else bob, room, f"메시지 {i}") for i in range(55)]
    assert ids == sorted(ids) and len(set(ids)) == 55

    member = join(streams, bob, room)
    replayed = member.collect(HISTORY, 10)
    assert [int(e.id) for e in replayed] == ids[-HISTORY:]
    assert [e.data["message"] for e in replayed] == [f"메시지 {i}" for i in range(5, 55)]
    assert all(e.data["roomId"] == room for e in replayed)
    member.assert_silent(SILENCE)  # exactly 50: nothing trimmed comes back

    # Live messages follow the history, each once.
    live = sent(base_url, alice, room, "live")
    event = member.next(5)
    assert (event.id, event.data["message"]) == (str(live), "live")
    member.assert_silent(0.3)

    # A second joiner now sees the newest 50 again, including the live one.
    again = join(streams, alice, room).collect(HISTORY, 10)
    assert [int(e.id) for e in again] == (ids + [live])[-HISTORY:]


def test_an_empty_room_replays_nothing(base_url, alice, streams):
    member = join(streams, alice, new_room())
    member.assert_silent(SILENCE)


def test_history_is_per_room(base_url, alice, streams):
    room, other = new_room(), new_room()
    sent(base_url, alice, other, "elsewhere")
    mine = sent(base_url, alice, room, "here")
    replayed = join(streams, alice, room).collect(1, 5)
    assert [int(e.id) for e in replayed] == [mine]


@pytest.mark.parametrize("how", ["header", "query"])
def test_last_event_id_replays_only_later_messages(base_url, alice, bob, streams, how):
    room = new_room()
    ids = [sent(base_url, alice, room, f"m{i}") for i in range(8)]
    seen = ids[4]
    if how == "header":
        member = join(streams, bob, room, headers={"Last-Event-ID": str(seen)})
    else:
        member = join(streams, bob, room, params={"lastEventId": str(seen)})
    replayed = member.collect(3, 5)
    assert [int(e.id) for e in replayed] == ids[5:]
    assert [e.data["message"] for e in replayed] == ["m5", "m6", "m7"]
    member.assert_silent(SILENCE)
    live = sent(base_url, alice, room, "after resume")
    assert member.next(5).id == str(live)


def test_last_event_id_of_the_newest_message_replays_nothing(base_url, alice, streams):
    room = new_room()
    ids = [sent(base_url, alice, room, f"m{i}") for i in range(3)]
    member = join(streams, alice, room, headers={"Last-Event-ID": str(ids[-1])})
    member.assert_silent(SILENCE)


def test_a_last_event_id_older_than_the_kept_history_replays_what_is_kept(base_url, alice, streams):
    room = new_room()
    ids = [sent(base_url, alice, room, f"m{i}") for i in range(HISTORY + 3)]
    member = join(streams, alice, room, headers={"Last-Event-ID": str(ids[0])})
    replayed = member.collect(HISTORY, 10)
    assert [int(e.id) for e in replayed] == ids[-HISTORY:]
    member.assert_silent(SILENCE)


def test_joins_that_arrive_together_each_replay_their_own_room_after_their_own_id(base_url, alice, bob, carol, streams):
    """Joins that arrive together read their rooms' history together (realtime/chat.py):
    each stream still gets its own room's kept messages after its own Last-Event-ID."""
    room, other = new_room(), new_room()
    ids = [sent(base_url, alice, room, f"m{i}") for i in range(HISTORY + 4)]
    other_ids = [sent(base_url, bob, other, f"o{i}") for i in range(3)]
    wanted = [
        (bob, room, None, ids[-HISTORY:]),
        (carol, room, ids[-3], ids[-2:]),
        (alice, room, ids[1], ids[-HISTORY:]),  # older than what is kept
        (bob, other, other_ids[0], other_ids[1:]),
        (carol, other, None, other_ids),
        (alice, room, ids[-1], []),
    ]

    def open_join(w):
        who, name, after, _expected = w
        headers = {} if after is None else {"Last-Event-ID": str(after)}
        return join(streams, who, name, headers=headers)

    with ThreadPoolExecutor(len(wanted)) as pool:
        members = list(pool.map(open_join, wanted))
    for member, (who, name, after, expected) in zip(members, wanted):
        got = member.collect(len(expected), 10) if expected else []
        assert [int(e.id) for e in got] == expected, f"{who.nickname} joining {name} after {after}"
        assert all(e.data["roomId"] == name for e in got)
        member.assert_silent(SILENCE)


@pytest.mark.parametrize("value", ["abc", "-1", "²".encode(), "9" * 40, ""])
def test_an_unusable_last_event_id_is_a_fresh_join(base_url, alice, streams, value):
    room = new_room()
    ids = [sent(base_url, alice, room, f"m{i}") for i in range(2)]
    member = join(streams, alice, room, headers={"Last-Event-ID": value})
    assert [int(e.id) for e in member.collect(2, 5)] == ids


# -- validation --------------------------------------------------------------------------

BAD_ROOMS = {
    "empty": "",
    "65-chars": "r" * 65,
    "space": "two words",
    "colon": "a:b",
    "slash": "a/b",
    "dot": "a.b",
    "unicode": "채팅방",
    "accented": "café",
    "newline": "room\n",
    "nul": "room\x00",
}


@pytest.mark.parametrize("case", list(BAD_ROOMS))
def test_invalid_room_names_are_refused_with_422(base_url, alice, case):
    room = BAD_ROOMS[case]
    with opened(f"{base_url}/chat/stream", params={"room": room}, headers=alice.headers) as r:
        r.read()
        assert_json_error(r, 422)
        assert not r.headers["content-type"].startswith("text/event-stream")
    assert_json_error(send_chat(base_url, alice, room, "hi"), 422)


def test_missing_room_is_refused_with_422(base_url, alice):
    with opened(f"{base_url}/chat/stream", headers=alice.headers) as r:
        r.read()
        assert_json_error(r, 422)


def test_room_names_at_the_limits_are_accepted(base_url, alice, streams):
    for room in ("r" * 64, "a", "Room_1-x"):
        member = join(streams, alice, room)
        message_id = sent(base_url, alice, room, "ok")
        # the room may have history from an earlier run of this test on this server: read to ours
        events = []
        while not events or events[-1].id != str(message_id):
            events.append(member.next(5))
        assert events[-1].data["roomId"] == room


def test_message_length_limits(base_url, alice, streams):
    room = new_room()
    member = join(streams, alice, room)
    for message in ("", "   ", "\n\t", "x" * 1001, "가" * 1001):
        assert_json_error(send_chat(base_url, alice, room, message), 422)
    member.assert_silent(0.3)
    longest = sent(base_url, alice, room, "가" * 1000)
    shortest = sent(base_url, alice, room, "x")
    got = member.collect(2, 5)
    assert [(int(e.id), e.data["message"]) for e in got] == [(longest, "가" * 1000), (shortest, "x")]


BAD_BODIES = {
    "extra-field": {"roomId": "general", "message": "hi", "type": "x"},
    "missing-message": {"roomId": "general"},
    "missing-room": {"message": "hi"},
    "number-message": {"roomId": "general", "message": 5},
    "null-message": {"roomId": "general", "message": None},
    "list-room": {"roomId": ["general"], "message": "hi"},
    "nul-character": {"roomId": "general", "message": "a\x00b"},
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_send_bodies_are_422_json(base_url, alice, case):
    r = http().post(f"{base_url}/chat/send", json=BAD_BODIES[case], headers=alice.headers)
    assert_json_error(r, 422)


def test_a_body_that_is_not_json_is_a_client_error(base_url, alice):
    r = httpx.post(f"{base_url}/chat/send", content=b"{not json", timeout=5,
                   headers={**alice.headers, "Content-Type": "application/json"})
    assert_json_error(r, (400, 422))


# -- limits and cleanup -------------------------------------------------------------------


def test_chat_streams_release_their_slot_when_closed(base_url, alice, streams):
    room = new_room()
    readers = [join(streams, alice, room) for _ in range(4)]
    with opened(f"{base_url}/chat/stream", params={"room": room}, headers=alice.headers) as r:
        r.read()
        assert_json_error(r, 429)
    for reader in readers:
        reader.close()
    streams.readers.clear()
    wait_idle(base_url)
    join(streams, alice, room)
