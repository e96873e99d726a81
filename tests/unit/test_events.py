"""Notification events: exact texts (SPEC.md) and shape."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from notifier_app.realtime import events

KEYS = {"id", "type", "title", "message", "href", "createdAt", "author"}
WHEN = datetime(2024, 5, 1, 12, 30, 45, 123456, tzinfo=timezone.utc)


def assert_uuid(value: str) -> None:
    assert isinstance(value, str)
    assert str(uuid.UUID(value)) == value


def assert_iso_utc(value: str) -> datetime:
    assert isinstance(value, str) and value.endswith("Z")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() == timedelta(0)
    return parsed


def post_event(**overrides):
    args = dict(post_id=3, title="첫 글", author_id=7, author_nickname="철수", created_at=WHEN)
    args.update(overrides)
    return events.post_created(**args)


def comment_event(content: str, **overrides):
    args = dict(post_id=3, comment_id=9, content=content, author_id=8, author_nickname="영희", created_at=WHEN)
    args.update(overrides)
    return events.comment_created(**args)


def test_post_created():
    event = post_event()
    assert set(event) == KEYS
    assert event["type"] == "post.created"
    assert event["title"] == "새 게시글"
    assert event["message"] == '철수님이 "첫 글" 글을 작성했어요.'
    assert event["href"] == "/posts/3"
    assert event["createdAt"] == "2024-05-01T12:30:45.123Z"
    assert event["author"] == {"id": "7", "nickname": "철수"}
    assert_uuid(event["id"])


def test_comment_created_short_comment_is_whole():
    event = comment_event("좋은 글이네요!")
    assert set(event) == KEYS
    assert event["type"] == "comment.created"
    assert event["title"] == "새 댓글"
    assert event["message"] == "영희님: 좋은 글이네요!"
    assert event["href"] == "/posts/3#comment-9"
    assert event["createdAt"] == "2024-05-01T12:30:45.123Z"
    assert event["author"] == {"id": "8", "nickname": "영희"}
    assert_uuid(event["id"])


def test_comment_created_keeps_the_first_50_characters():
    content = "".join(chr(ord("a") + i % 26) for i in range(51))
    assert comment_event(content)["message"] == "영희님: " + content[:50]
    assert comment_event("x" * 500)["message"] == "영희님: " + "x" * 50


def test_comment_created_counts_korean_characters_not_bytes():
    content = "가나다라마바사아자차" * 6  # 60 characters, 180 UTF-8 bytes
    message = comment_event(content)["message"]
    assert message == "영희님: " + ("가나다라마바사아자차" * 5)
    assert len(message) == len("영희님: ") + 50


def test_comment_of_exactly_50_characters_is_whole():
    content = "오" * 25 + "k" * 25
    assert len(content) == 50
    assert comment_event(content)["message"] == "영희님: " + content


def test_author_id_is_a_string():
    assert post_event(author_id=123)["author"]["id"] == "123"
    assert comment_event("hi", author_id=45)["author"]["id"] == "45"


def test_every_event_gets_its_own_uuid():
    ids = {post_event()["id"] for _ in range(20)}
    assert len(ids) == 20
    for value in ids:
        assert_uuid(value)


@pytest.mark.parametrize(
    "created_at, expected",
    [
        (datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc), "2024-05-01T12:00:00.000Z"),
        # SQLite gives naive datetimes back: they are UTC.
        (datetime(2024, 5, 1, 12, 0, 0, 999999), "2024-05-01T12:00:00.999Z"),
        # Another zone is converted to UTC.
        (datetime(2024, 5, 1, 21, 0, 0, tzinfo=timezone(timedelta(hours=9))), "2024-05-01T12:00:00.000Z"),
    ],
)
def test_created_at_is_iso_8601_utc_with_z(created_at, expected):
    assert post_event(created_at=created_at)["createdAt"] == expected


def test_created_at_defaults_to_now_in_utc():
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    event = events.post_created(post_id=1, title="t", author_id=1, author_nickname="n")
    after = datetime.now(timezone.utc) + timedelta(seconds=1)
    assert before <= assert_iso_utc(event["createdAt"]) <= after


def test_stream_reset_shape():
    event = events.stream_reset()
    assert set(event) == KEYS - {"author"}
    assert event["type"] == "stream.reset" == events.STREAM_RESET
    assert event["title"] and event["message"]
    assert event["href"] == "/notifications"
    assert_uuid(event["id"])
    assert_iso_utc(event["createdAt"])
