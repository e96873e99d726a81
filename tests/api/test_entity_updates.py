"""Realtime entity updates over real HTTP (issue 6): GET /realtime/stream?entity=<type>:<id>
(repeatable) and POST /realtime/update {entityType, entityId, action, data}.

POST /realtime/update fans out before it answers 202, so a subscriber's buffer holds the
update by then; "must not receive" checks need only a short silence window. The blog's
own updates (a comment on post:<id>, a post on feed:posts) go through the event bus and
arrive shortly after the write.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.helpers import Streams, assert_json_error, opened, wait_idle
from tests.support.client import (
    RawStream,
    create_comment,
    create_post,
    entity_params,
    http,
    signup,
    update_entity,
    wait_until,
)

PER_USER_CAP = 4
SILENCE = 0.5


def unique(prefix: str = "e") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def alice(base_url):
    return signup(base_url, "entity-alice")


@pytest.fixture(scope="module")
def bob(base_url):
    return signup(base_url, "entity-bob")


@pytest.fixture
def streams(base_url):
    s = Streams(base_url)
    yield s
    s.close_all()
    wait_idle(base_url)


def follow(streams: Streams, who, *entities: str, **kw):
    return streams.open(who, path="/realtime/stream", params=entity_params(*entities), **kw)


def publish(base_url: str, who, entity_type: str, entity_id: str, action: str = "updated", data=None) -> None:
    body = {"entityType": entity_type, "entityId": entity_id, "action": action}
    if data is not None:
        body["data"] = data
    r = update_entity(base_url, who, body)
    assert r.status_code == 202, f"update answered {r.status_code}: {r.text}"
    assert r.headers["content-type"].startswith("application/json")


def next_for(reader, entity_type: str, entity_id: str, timeout: float = 5.0):
    """The next update on (type, id), skipping other entities' (e.g. other tests' posts on feed:posts)."""
    while True:
        event = reader.next(timeout)
        if (event.data["entityType"], event.data["entityId"]) == (entity_type, entity_id):
            return event


# -- auth and the response -------------------------------------------------------------


def test_stream_and_update_need_authentication(base_url, alice):
    for params in ({"entity": "post:1"}, {"entity": "post:1", "token": "x.y.z"}):
        with opened(f"{base_url}/realtime/stream", params=params) as r:
            r.read()
            assert_json_error(r, 401)
            assert not r.headers["content-type"].startswith("text/event-stream")
    body = {"entityType": "post", "entityId": "1", "action": "updated"}
    assert_json_error(update_entity(base_url, None, body), 401)
    assert_json_error(http().post(f"{base_url}/realtime/update", json=body, headers={"Authorization": "Bearer no"}), 401)


def test_entity_stream_has_the_notification_stream_headers(base_url, alice):
    raw = RawStream(base_url, path="/realtime/stream?entity=post:1&entity=feed:posts", headers=alice.headers)
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


def test_token_in_the_query_or_cookie_works(base_url, alice, streams):
    entity = unique()
    by_query = streams.open(path="/realtime/stream", params=[("entity", f"doc:{entity}"), ("token", alice.token)])
    by_cookie = streams.open(
        path="/realtime/stream", params=entity_params(f"doc:{entity}"), headers={"Cookie": f"access_token={alice.token}"}
    )
    publish(base_url, alice, "doc", entity)
    for reader in (by_query, by_cookie):
        assert reader.next(5).data["entityId"] == entity


# -- delivery --------------------------------------------------------------------------


def test_subscribers_of_the_entity_get_the_update_and_others_do_not(base_url, alice, bob, streams):
    target, other = unique(), unique()
    alice_tab = follow(streams, alice, f"doc:{target}")
    bob_tab = follow(streams, bob, f"doc:{target}")
    other_tab = follow(streams, bob, f"doc:{other}")
    same_id_other_type = follow(streams, alice, f"sheet:{target}")

    before = datetime.now(UTC) - timedelta(seconds=5)
    data = {"title": "새 제목", "n": 3, "tags": ["a", "b"], "nested": {"ok": True, "none": None}}
    publish(base_url, bob, "doc", target, "doc.renamed", data)
    received = [alice_tab.next(5), bob_tab.next(5)]  # the publisher's own subscription too
    assert received[0].raw == received[1].raw
    event = received[0].data
    assert set(event) == {"entityType", "entityId", "action", "data", "createdAt"}, event
    assert (event["entityType"], event["entityId"], event["action"]) == ("doc", target, "doc.renamed")
    assert event["data"] == data
    created = datetime.fromisoformat(event["createdAt"])
    assert event["createdAt"].endswith("Z")
    assert before < created < datetime.now(UTC) + timedelta(seconds=5)

    other_tab.assert_silent(SILENCE)
    same_id_other_type.assert_silent(0.1)
    # The other entity's next update is the first thing its subscriber gets.
    publish(base_url, alice, "doc", other, "marker")
    assert other_tab.next(5).data["action"] == "marker"
    alice_tab.assert_silent(0.2)


def test_a_stream_of_two_entities_gets_both_and_nothing_else(base_url, alice, bob, streams):
    first, second, third = unique(), unique(), unique()
    both = follow(streams, alice, f"doc:{first}", f"board:{second}")
    publish(base_url, bob, "doc", first, "one")
    publish(base_url, bob, "doc", third, "not-followed")
    publish(base_url, bob, "board", second, "two")
    got = both.collect(2, 5)
    assert [(e.data["entityType"], e.data["entityId"], e.data["action"]) for e in got] == [
        ("doc", first, "one"),
        ("board", second, "two"),
    ]
    both.assert_silent(SILENCE)


def test_the_same_entity_twice_is_delivered_once(base_url, alice, streams):
    entity = unique()
    reader = follow(streams, alice, f"doc:{entity}", f"doc:{entity}")
    publish(base_url, alice, "doc", entity, "once")
    assert reader.next(5).data["action"] == "once"
    reader.assert_silent(SILENCE)


def test_data_is_optional_and_any_json(base_url, alice, streams):
    entity = unique()
    reader = follow(streams, alice, f"doc:{entity}")
    publish(base_url, alice, "doc", entity, "no-data")
    for data in ([1, 2, 3], "text", 42, 1.5, False, {"k": "값"}):
        publish(base_url, alice, "doc", entity, "with-data", data)
    got = reader.collect(7, 5)
    assert got[0].data["data"] is None and got[0].data["action"] == "no-data"
    assert [e.data["data"] for e in got[1:]] == [[1, 2, 3], "text", 42, 1.5, False, {"k": "값"}]


def test_entity_updates_carry_no_sse_id(base_url, alice, streams):
    """Updates are not kept, so there is nothing to resume from: no `id:` line."""
    entity = unique()
    reader = follow(streams, alice, f"doc:{entity}")
    publish(base_url, alice, "doc", entity)
    assert not reader.next(5).id


def test_a_comment_through_the_blog_api_updates_its_post(base_url, alice, bob, streams):
    post = create_post(base_url, alice, title="실시간 댓글")
    on_post = follow(streams, bob, f"post:{post['id']}")
    on_other = follow(streams, bob, f"post:{post['id'] + 10_000}")
    comment = create_comment(base_url, bob, post["id"], "첫 댓글")
    event = next_for(on_post, "post", str(post["id"])).data
    assert event["action"] == "comment.created"
    assert event["data"] == {"commentId": comment["id"], "authorId": str(bob.id)}
    assert event["createdAt"].endswith("Z")
    # A comment by the post's author updates the post too (it is not a notification).
    own = create_comment(base_url, alice, post["id"], "작성자 댓글")
    assert next_for(on_post, "post", str(post["id"])).data["data"]["commentId"] == own["id"]
    on_other.assert_silent(SILENCE)


def test_a_new_post_updates_the_feed(base_url, alice, bob, streams):
    feed = follow(streams, bob, "feed:posts")
    author_feed = follow(streams, alice, "feed:posts")  # the author's own feed hears of it too
    post = create_post(base_url, alice, title="피드 갱신")
    for reader in (feed, author_feed):
        while True:
            event = next_for(reader, "feed", "posts").data
            if event["data"]["postId"] == post["id"]:
                break
        assert event["action"] == "post.created"
        assert event["data"] == {"postId": post["id"], "authorId": str(alice.id)}


# -- validation --------------------------------------------------------------------------

BAD_ENTITIES = {
    "empty": "",
    "colon-only": ":",
    "no-colon": "post1",
    "empty-type": ":1",
    "empty-id": "post:",
    "three-parts": "a:b:c",
    "65-char-id": "post:" + "x" * 65,
    "65-char-type": "t" * 65 + ":1",
    "space": "post:1 2",
    "leading-space": " post:1",
    "unicode": "글:1",
    "accented-id": "post:é",
    "dot": "post:1.2",
    "slash": "post/1:2",
    "newline": "post:1\n",
    "nul": "post:1\x00",
}


@pytest.mark.parametrize("case", list(BAD_ENTITIES))
def test_invalid_entity_names_are_refused_with_422(base_url, alice, case):
    with opened(f"{base_url}/realtime/stream", params={"entity": BAD_ENTITIES[case]}, headers=alice.headers) as r:
        r.read()
        assert_json_error(r, 422)
        assert not r.headers["content-type"].startswith("text/event-stream")


def test_one_bad_entity_among_good_ones_refuses_the_stream(base_url, alice):
    with opened(f"{base_url}/realtime/stream", params=entity_params("post:1", "a:b:c"), headers=alice.headers) as r:
        r.read()
        assert_json_error(r, 422)


def test_no_entity_or_too_many_is_422(base_url, alice):
    with opened(f"{base_url}/realtime/stream", headers=alice.headers) as r:
        r.read()
        assert_json_error(r, 422)
    many = entity_params(*(f"doc:{i}" for i in range(21)))
    with opened(f"{base_url}/realtime/stream", params=many, headers=alice.headers) as r:
        r.read()
        assert_json_error(r, 422)


def test_names_at_the_limits_are_accepted(base_url, alice, streams):
    longest = "t" * 64 + ":" + "i" * 64
    reader = follow(streams, alice, longest, "A-b_9:Z_z-0", *(f"doc:{i}" for i in range(18)))  # 20 in all
    publish(base_url, alice, "t" * 64, "i" * 64, "edge")
    assert reader.next(5).data["entityId"] == "i" * 64


VALID = {"entityType": "doc", "entityId": "1", "action": "updated"}
BAD_UPDATES = {
    "empty-type": {**VALID, "entityType": ""},
    "spaced-type": {**VALID, "entityType": "my doc"},
    "colon-in-id": {**VALID, "entityId": "1:2"},
    "65-char-id": {**VALID, "entityId": "x" * 65},
    "unicode-id": {**VALID, "entityId": "하나"},
    "newline-id": {**VALID, "entityId": "1\n"},
    "empty-action": {**VALID, "action": ""},
    "spaced-action": {**VALID, "action": "was updated"},
    "65-char-action": {**VALID, "action": "a" * 65},
    "missing-type": {"entityId": "1", "action": "updated"},
    "missing-id": {"entityType": "doc", "action": "updated"},
    "missing-action": {"entityType": "doc", "entityId": "1"},
    "extra-field": {**VALID, "userIds": [1]},
    "bool-id": {**VALID, "entityId": True},
    "float-id": {**VALID, "entityId": 1.5},
    "null-type": {**VALID, "entityType": None},
    "data-over-16k": {**VALID, "data": {"blob": "x" * 17_000}},
    "nul-in-id": {**VALID, "entityId": "1\x00"},
}


@pytest.mark.parametrize("case", list(BAD_UPDATES))
def test_bad_updates_are_422_json(base_url, alice, case):
    assert_json_error(update_entity(base_url, alice, BAD_UPDATES[case]), 422)


def test_bad_updates_are_not_delivered(base_url, alice, streams):
    watcher = follow(streams, alice, "doc:1")
    for case, body in BAD_UPDATES.items():
        assert update_entity(base_url, alice, body).status_code == 422, case
    watcher.assert_silent(SILENCE)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_json_numbers_in_data_are_422(base_url, alice, streams, literal):
    """Python's JSON parser reads NaN; a browser's JSON.parse could not read it back."""
    entity = unique()
    reader = follow(streams, alice, f"doc:{entity}")
    body = f'{{"entityType":"doc","entityId":"{entity}","action":"x","data":{{"v":{literal}}}}}'
    r = http().post(f"{base_url}/realtime/update", content=body,
                    headers={**alice.headers, "Content-Type": "application/json"})
    assert_json_error(r, 422)
    reader.assert_silent(0.3)


def test_data_up_to_16k_is_accepted(base_url, alice, streams):
    entity = unique()
    reader = follow(streams, alice, f"doc:{entity}")
    data = {"blob": "x" * 16_000}
    publish(base_url, alice, "doc", entity, "big", data)
    assert reader.next(5).data["data"] == data


# -- limits ----------------------------------------------------------------------------


def test_entity_streams_count_toward_the_per_user_cap(base_url, alice, bob, streams):
    for i in range(PER_USER_CAP):
        follow(streams, alice, f"doc:{i}")
    for path, params in (
        ("/realtime/stream", {"entity": "doc:x"}),
        ("/notifications/stream", {}),
        ("/chat/stream", {"room": "general"}),
    ):
        with opened(f"{base_url}{path}", params=params, headers=alice.headers) as r:
            r.read()
            body = assert_json_error(r, 429)
        assert str(PER_USER_CAP) in body["detail"]
        assert int(r.headers["retry-after"]) > 0
    follow(streams, bob, "doc:x")  # per user: bob is not affected


def test_the_cap_counts_every_kind_of_stream_together(base_url, alice, streams):
    streams.open(alice)  # notifications
    streams.open(alice, path="/chat/stream", params={"room": unique("room")})
    follow(streams, alice, "doc:1")
    follow(streams, alice, "doc:2", "doc:3")  # one stream, however many entities
    with opened(f"{base_url}/realtime/stream", params={"entity": "doc:4"}, headers=alice.headers) as r:
        r.read()
        assert_json_error(r, 429)


def test_a_closed_entity_stream_frees_its_slot(base_url, alice, streams):
    readers = [follow(streams, alice, f"doc:{i}") for i in range(PER_USER_CAP)]
    readers[0].close()
    streams.readers.remove(readers[0])

    def admitted():
        with opened(f"{base_url}/realtime/stream", params={"entity": "doc:again"}, headers=alice.headers) as r:
            return r.status_code == 200

    wait_until(admitted, 5, interval=0.1, message="the closed stream's slot to be freed")


def test_a_numeric_entity_id_names_the_same_entity_as_its_string(base_url, alice, streams):
    """Clients send database ids as JSON numbers: 5 and "5" are the same entity."""
    entity = str(uuid.uuid4().int % 10**12)
    reader = follow(streams, alice, f"doc:{entity}")
    assert update_entity(base_url, alice, {"entityType": "doc", "entityId": int(entity), "action": "x"}).status_code == 202
    event = reader.next(5)
    assert event.data["entityId"] == entity
