"""The SSE wire format, byte for byte."""

from __future__ import annotations

import json

from notifier_app.realtime import events, sse


def data_lines(frame: bytes) -> list[str]:
    text = frame.decode("utf-8")
    assert text.endswith("\n\n")
    return [line[len("data: "):] for line in text[:-2].split("\n") if line.startswith("data: ")]


def test_frame_with_id_event_and_data():
    assert sse.frame({"a": 1, "b": "x"}, id=7, event="notification") == (
        b'id: 7\nevent: notification\ndata: {"a":1,"b":"x"}\n\n'
    )


def test_frame_with_data_only():
    assert sse.frame({"a": 1}) == b'data: {"a":1}\n\n'


def test_frame_with_string_id():
    assert sse.frame([1, 2], id="abc") == b"id: abc\ndata: [1,2]\n\n"


def test_a_string_with_newlines_becomes_several_data_lines():
    assert sse.frame("one\ntwo") == b"data: one\ndata: two\n\n"


def test_json_with_a_newline_inside_a_string_stays_on_one_data_line():
    frame = sse.frame({"message": "first line\nsecond line"}, id=3)
    assert frame == b'id: 3\ndata: {"message":"first line\\nsecond line"}\n\n'
    assert frame.count(b"\n") == 3  # id line, data line, blank line
    [line] = data_lines(frame)
    assert json.loads(line) == {"message": "first line\nsecond line"}


def test_korean_stays_utf8():
    frame = sse.frame({"title": "새 게시글"})
    assert frame == 'data: {"title":"새 게시글"}\n\n'.encode("utf-8")
    assert b"\\u" not in frame
    assert "새 게시글".encode("utf-8") in frame


def test_dumps_is_compact_and_not_ascii_escaped():
    assert sse.dumps({"k": "값", "n": [1, 2]}) == '{"k":"값","n":[1,2]}'


def test_a_notification_event_round_trips_through_a_frame():
    event = events.comment_created(
        post_id=1, comment_id=2, content='줄바꿈\n"따옴표"', author_id=3, author_nickname="닉"
    )
    frame = sse.frame(event, id=42)
    assert frame.startswith(b"id: 42\ndata: {")
    [line] = data_lines(frame)
    assert json.loads(line) == event


def test_retry():
    assert sse.retry(5000) == b"retry: 5000\n\n"
    assert sse.retry(0) == b"retry: 0\n\n"


def test_keep_alive_is_a_comment():
    assert sse.KEEP_ALIVE == b": keep-alive\n\n"
    assert sse.KEEP_ALIVE.startswith(b":")


def test_headers_defeat_proxy_buffering_and_caching():
    headers = dict(sse.HEADERS)
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert headers[b"cache-control"] == b"no-cache"
    assert headers[b"x-accel-buffering"] == b"no"
