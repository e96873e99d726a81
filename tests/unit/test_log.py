"""The notification log: append, replay, retention, inbox and read state (real SQLite)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select, update

from notifier_app import db
from notifier_app.models import Notification, NotificationRead
from notifier_app.realtime import events, log, sse


def post_event(n: int) -> dict:
    return events.post_created(post_id=n, title=f"글 {n}", author_id=1, author_nickname="앨리스")


def comment_event(n: int) -> dict:
    return events.comment_created(post_id=1, comment_id=n, content=f"댓글 {n}", author_id=2, author_nickname="밥")


def seqs(published) -> list[int]:
    return [p.seq for p in published]


def age(seqs_: list[int], days: float) -> None:
    """Pretend these rows were written `days` ago."""
    when = datetime.now(timezone.utc) - timedelta(days=days)
    with db.session() as s:
        s.exec(update(Notification).where(Notification.seq.in_(seqs_)).values(created_at=when))
        s.commit()


# -- append and replay ----------------------------------------------------------------


def test_append_returns_increasing_seqs_and_the_frame(users):
    assert log.last_seq() == 0
    event = post_event(1)
    first = log.append(event, exclude_user_id=users["alice"])
    second = log.append(comment_event(2), user_id=users["alice"])
    third = log.append(post_event(3))
    assert 0 < first.seq < second.seq < third.seq
    assert log.last_seq() == third.seq

    assert first.event == event
    assert (first.user_id, first.exclude_user_id) == (None, users["alice"])
    assert (second.user_id, second.exclude_user_id) == (users["alice"], None)
    assert first.frame == sse.frame(event, id=first.seq)
    assert first.frame.startswith(f"id: {first.seq}\n".encode())


@pytest.fixture
def history(users):
    """A mixed log: broadcasts (some excluding a user) and user-targeted rows."""
    a, b, c = users["alice"], users["bob"], users["carol"]
    return {
        "to_all_but_a": log.append(post_event(1), exclude_user_id=a).seq,
        "to_b": log.append(comment_event(2), user_id=b).seq,
        "to_c": log.append(comment_event(3), user_id=c).seq,
        "to_all": log.append(post_event(4)).seq,
        "to_all_but_b": log.append(post_event(5), exclude_user_id=b).seq,
        "to_a": log.append(comment_event(6), user_id=a).seq,
    }


def test_replay_returns_only_what_the_user_may_see_in_seq_order(users, history):
    h = history
    a, b, c = users["alice"], users["bob"], users["carol"]
    assert seqs(log.replay(a, 0)) == [h["to_all"], h["to_all_but_b"], h["to_a"]]
    assert seqs(log.replay(b, 0)) == [h["to_all_but_a"], h["to_b"], h["to_all"]]
    assert seqs(log.replay(c, 0)) == [h["to_all_but_a"], h["to_c"], h["to_all"], h["to_all_but_b"]]


def test_replay_starts_after_the_given_seq_and_respects_the_limit(users, history):
    h = history
    b = users["bob"]
    assert seqs(log.replay(b, h["to_all_but_a"])) == [h["to_b"], h["to_all"]]
    assert seqs(log.replay(b, h["to_all"])) == []
    assert seqs(log.replay(b, 0, limit=2)) == [h["to_all_but_a"], h["to_b"]]


def test_replayed_rows_match_what_was_published(users):
    event = comment_event(7)
    published = log.append(event, user_id=users["bob"])
    [replayed] = log.replay(users["bob"], 0)
    assert replayed == published
    assert replayed.event == event  # Korean text survives the round trip


def test_visible_to_agrees_with_replay(users, history):
    everything = {p.seq: p for u in users.values() for p in log.replay(u, 0)}
    assert set(everything) == set(history.values())
    for user in users.values():
        visible = set(seqs(log.replay(user, 0)))
        assert {s for s, p in everything.items() if p.visible_to(user)} == visible


def test_resume_answers_many_streams_as_replay_and_the_bounds_would_one_by_one(users):
    a, b, c = users["alice"], users["bob"], users["carol"]
    old = log.append(post_event(0)).seq
    age([old], days=10)
    log.prune(timedelta(days=7))
    to_b = log.append(comment_event(1), user_id=b).seq
    to_all = log.append(post_event(2)).seq
    log.append(post_event(3), exclude_user_id=b)
    log.append(comment_event(4), user_id=a)
    newest = log.last_seq()
    wanted = [(a, 0), (b, old), (c, to_all), (b, newest), (a, newest + 5), (a, 0)]

    found = log.resume(wanted)

    assert set(found) == set(wanted)
    for user_id, after in wanted:
        resumed = found[(user_id, after)]
        assert (resumed.pruned_through, resumed.last_seq) == (old, newest)
        expected = log.replay(user_id, after) if after <= newest else []
        assert resumed.missed == expected, (user_id, after)
    assert seqs(found[(b, old)].missed) == [to_b, to_all]
    assert len(found[(a, 0)].missed) == 3
    assert found[(a, newest + 5)].missed == []  # ahead of the log: the feed starts afresh


# -- retention ------------------------------------------------------------------------


def test_prune_removes_old_rows_and_reports_how_far(users):
    a = users["alice"]
    old = [log.append(post_event(i)).seq for i in range(3)]
    recent = log.append(post_event(9)).seq
    age(old, days=10)
    assert log.pruned_through() == 0

    assert log.prune(timedelta(days=7)) == 3
    assert log.pruned_through() == old[-1]
    assert seqs(log.replay(a, 0)) == [recent]

    assert log.prune(timedelta(days=7)) == 0  # nothing more to do
    assert log.pruned_through() == old[-1]


def test_prune_with_nothing_old_changes_nothing(users):
    seq = log.append(post_event(1)).seq
    assert log.prune(timedelta(days=7)) == 0
    assert log.pruned_through() == 0
    assert seqs(log.replay(users["alice"], 0)) == [seq]


def test_prune_drops_read_marks_of_pruned_rows_and_never_reuses_a_seq(users):
    a = users["alice"]
    first = log.append(post_event(1)).seq
    second = log.append(post_event(2)).seq
    assert log.mark_read(a, first)
    age([first, second], days=30)

    assert log.prune(timedelta(days=7)) == 2
    assert log.pruned_through() == second
    with db.session() as s:
        assert s.exec(select(NotificationRead)).all() == []

    assert log.append(post_event(3)).seq > second  # AUTOINCREMENT: seqs are never reused
    assert log.pruned_through() == second


def test_prune_accepts_an_explicit_now(users):
    seq = log.append(post_event(1)).seq
    assert log.prune(timedelta(days=1), now=datetime.now(timezone.utc) + timedelta(days=2)) == 1
    assert log.pruned_through() == seq


# -- inbox and read state -------------------------------------------------------------


def inbox_view(user_id: int, **kwargs) -> tuple[list[tuple[int, bool]], int]:
    items, unread = log.inbox(user_id, **kwargs)
    return [(item["seq"], item["read"]) for item in items], unread


def test_inbox_is_newest_first_with_read_flags_and_event_fields(users, history):
    h = history
    a = users["alice"]
    items, unread = log.inbox(a)
    assert [i["seq"] for i in items] == [h["to_a"], h["to_all_but_b"], h["to_all"]]
    assert all(i["read"] is False for i in items)
    assert unread == 3
    assert items[0]["type"] == "comment.created" and items[0]["message"] == "밥님: 댓글 6"
    assert {"id", "type", "title", "message", "href", "createdAt", "author", "seq", "read"} == set(items[0])


def test_inbox_pagination(users, history):
    h = history
    c = users["carol"]
    page1, unread = inbox_view(c, limit=2)
    assert [s for s, _ in page1] == [h["to_all_but_b"], h["to_all"]]
    page2, _ = inbox_view(c, limit=2, before=h["to_all"])
    assert [s for s, _ in page2] == [h["to_c"], h["to_all_but_a"]]
    assert unread == 4  # the count is not limited to the page


def test_read_state_of_a_broadcast_is_per_user(users, history):
    h = history
    a, c = users["alice"], users["carol"]
    assert log.mark_read(a, h["to_all"]) is True
    assert log.mark_read(a, h["to_all"]) is True  # idempotent

    items, unread = inbox_view(a)
    assert items == [(h["to_a"], False), (h["to_all_but_b"], False), (h["to_all"], True)]
    assert unread == 2 == log.unread_count(a)

    # Carol sees the same broadcast still unread.
    assert dict(inbox_view(c)[0])[h["to_all"]] is False
    assert log.unread_count(c) == 4


def test_mark_read_of_someone_elses_notification_is_refused(users, history):
    h = history
    a = users["alice"]
    assert log.mark_read(a, h["to_b"]) is False  # bob's
    assert log.mark_read(a, h["to_all_but_a"]) is False  # a broadcast alice is excluded from
    assert log.mark_read(a, 10_000) is False  # no such notification
    assert log.unread_count(users["bob"]) == 3
    with db.session() as s:
        assert s.exec(select(NotificationRead)).all() == []


def test_mark_all_read(users, history):
    a, b = users["alice"], users["bob"]
    log.mark_read(a, history["to_all"])
    log.mark_all_read(a)
    items, unread = inbox_view(a)
    assert unread == 0 == log.unread_count(a)
    assert all(read for _, read in items)
    assert log.unread_count(b) == 3  # bob is untouched

    # Marking one read below the watermark is still "yes, it is read".
    assert log.mark_read(a, history["to_all"]) is True
    assert log.unread_count(a) == 0

    # Something new after "mark all read" is unread.
    newer = log.append(post_event(99)).seq
    items, unread = inbox_view(a)
    assert items[0] == (newer, False)
    assert unread == 1
    assert log.mark_read(a, newer) is True
    assert log.unread_count(a) == 0

    log.mark_all_read(a)  # again: harmless
    assert log.unread_count(a) == 0


def test_unread_counts_of_many_users_at_once_match_each_users_inbox(users, history):
    """The counts open tabs read together: a watermark, a single read, nothing read."""
    h = history
    a, b, c = users["alice"], users["bob"], users["carol"]
    log.mark_all_read(a)
    after_mark = log.append(post_event(7)).seq  # alice has one unread again
    log.mark_read(b, h["to_all"])
    log.mark_read(c, after_mark)
    nobody = c + 100

    counts = log.unread_counts([a, b, c, nobody])

    assert counts == {a: 1, b: 3, c: 4, nobody: 0}
    for user in (a, b, c):
        assert counts[user] == inbox_view(user)[1] == log.unread_count(user)


def test_inbox_of_a_user_with_nothing(users):
    assert log.inbox(users["alice"]) == ([], 0)
    assert log.unread_count(users["alice"]) == 0
    log.mark_all_read(users["alice"])  # with an empty log
    assert log.unread_count(users["alice"]) == 0
