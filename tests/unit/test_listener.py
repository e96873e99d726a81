"""Domain event -> listener -> notifier -> log + registry, on a real SQLite database."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from notifier_app.blog import services
from notifier_app.blog.events import CommentCreated, PostCreated
from notifier_app.blog.schemas import CommentIn, PostIn
from notifier_app.bus import EventBus
from notifier_app.realtime import listener, log
from notifier_app.realtime.log import Published
from notifier_app.realtime.notifier import Notifier
from notifier_app.realtime.registry import SubscriberRegistry, user_channel
from tests.unit.conftest import run

WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


class World:
    """One bus, registry and notifier wired like the app's lifespan does."""

    def __init__(self) -> None:
        self.bus = EventBus()
        self.registry = SubscriberRegistry()
        self.notifier = Notifier(self.registry)
        listener.register(self.bus, self.notifier)

    def tab(self, user_id: int):
        return self.registry.subscribe(user_channel(user_id))

    def start(self) -> None:
        self.bus.start()
        self.notifier.start()

    async def settle(self) -> None:
        await self.bus.drain()
        await self.notifier.drain()

    async def emit_and_settle(self, *domain_events: object) -> None:
        self.start()
        for event in domain_events:
            self.bus.emit(event)  # each stores its notification in a transaction of its own
        await self.settle()


@pytest.fixture
def world(users) -> World:
    return World()


def post_created(author_id: int, nickname: str, post_id: int = 10) -> PostCreated:
    return PostCreated(post_id=post_id, title="새 소식", author_id=author_id, author_nickname=nickname, created_at=WHEN)


def comment_created(author_id: int, nickname: str, post_author_id: int, content: str = "좋아요") -> CommentCreated:
    return CommentCreated(
        comment_id=5,
        post_id=10,
        post_author_id=post_author_id,
        content=content,
        author_id=author_id,
        author_nickname=nickname,
        created_at=WHEN,
    )


def test_post_created_reaches_every_other_user_but_not_the_author(world, users):
    a, b, c = users["alice"], users["bob"], users["carol"]
    author_tab, bob_tab1, bob_tab2, carol_tab = world.tab(a), world.tab(b), world.tab(b), world.tab(c)

    run(world.emit_and_settle(post_created(a, "앨리스")))

    assert author_tab.drain() == []
    [item] = bob_tab1.drain()
    assert bob_tab2.drain() == [item] and carol_tab.drain() == [item]
    assert isinstance(item, Published)
    assert (item.user_id, item.exclude_user_id) == (None, a)
    assert item.event["type"] == "post.created"
    assert item.event["message"] == '앨리스님이 "새 소식" 글을 작성했어요.'
    assert item.event["href"] == "/posts/10"
    assert item.event["author"] == {"id": str(a), "nickname": "앨리스"}
    assert item.event["createdAt"] == "2024-05-01T12:00:00.000Z"
    assert item.frame.startswith(f"id: {item.seq}\n".encode())

    # Stored before delivery: a reconnecting client can replay it, the author cannot.
    assert [p.seq for p in log.replay(b, 0)] == [item.seq]
    assert log.replay(a, 0) == []
    assert world.notifier.events_published == {"post.created": 1}


def test_comment_created_goes_to_the_post_author_only(world, users):
    a, b, c = users["alice"], users["bob"], users["carol"]
    author_tab, commenter_tab, carol_tab = world.tab(a), world.tab(b), world.tab(c)

    run(world.emit_and_settle(comment_created(b, "밥", post_author_id=a, content="가" * 60)))

    [item] = author_tab.drain()
    assert commenter_tab.drain() == [] and carol_tab.drain() == []
    assert (item.user_id, item.exclude_user_id) == (a, None)
    assert item.event["type"] == "comment.created"
    assert item.event["message"] == "밥님: " + "가" * 50
    assert item.event["href"] == "/posts/10#comment-5"
    assert log.replay(b, 0) == [] and log.replay(c, 0) == []
    assert world.notifier.events_published == {"comment.created": 1}


def test_a_comment_on_your_own_post_notifies_nobody(world, users):
    a, b = users["alice"], users["bob"]
    author_tab, other_tab = world.tab(a), world.tab(b)

    run(world.emit_and_settle(comment_created(a, "앨리스", post_author_id=a)))

    assert author_tab.drain() == [] and other_tab.drain() == []
    assert log.last_seq() == 0  # nothing stored either
    assert world.notifier.events_published == {}


def test_events_published_counts_per_type(world, users):
    a, b, c = users["alice"], users["bob"], users["carol"]
    tabs = {u: world.tab(u) for u in (a, b, c)}

    run(
        world.emit_and_settle(
            post_created(a, "앨리스", post_id=1),
            post_created(b, "밥", post_id=2),
            comment_created(b, "밥", post_author_id=a),
            comment_created(c, "캐롤", post_author_id=a),
            comment_created(a, "앨리스", post_author_id=a),  # self-comment: not published
        )
    )

    assert world.notifier.events_published == {"post.created": 2, "comment.created": 2}
    received = {u: [p.event["type"] for p in tab.drain()] for u, tab in tabs.items()}
    assert sorted(received[a]) == ["comment.created", "comment.created", "post.created"]
    assert received[b] == ["post.created"]
    assert received[c] == ["post.created", "post.created"]


def test_delivery_order_is_sequence_order(world, users):
    a, b = users["alice"], users["bob"]
    tab = world.tab(b)
    run(world.emit_and_settle(*(post_created(a, "앨리스", post_id=i) for i in range(1, 6))))
    items = tab.drain()
    assert len(items) == 5
    assert [p.seq for p in items] == sorted(p.seq for p in items)
    assert [p.seq for p in items] == [p.seq for p in log.replay(b, 0)]


def test_publishing_with_nobody_connected_still_stores_the_notification(world, users):
    run(world.emit_and_settle(post_created(users["alice"], "앨리스")))
    assert world.notifier.events_published == {"post.created": 1}
    assert len(log.replay(users["bob"], 0)) == 1


def test_services_to_subscribers_end_to_end(world, users, monkeypatch):
    """create_post/create_comment in a worker thread (as FastAPI runs them) -> live delivery."""
    a, b = users["alice"], users["bob"]
    monkeypatch.setattr(services, "bus", world.bus)
    alice_tab, bob_tab = world.tab(a), world.tab(b)

    async def main():
        world.start()
        post = await asyncio.to_thread(services.create_post, a, PostIn(title="제목"))
        seen_by_bob = await bob_tab.next_item(timeout=5)
        comment = await asyncio.to_thread(services.create_comment, b, post.id, CommentIn(content="첫 댓글"))
        seen_by_alice = await alice_tab.next_item(timeout=5)
        await asyncio.to_thread(services.create_comment, a, post.id, CommentIn(content="self"))
        await world.settle()
        return post, comment, seen_by_bob, seen_by_alice

    post, comment, seen_by_bob, seen_by_alice = run(main())
    assert seen_by_bob.event["href"] == f"/posts/{post.id}"
    assert seen_by_alice.event["href"] == f"/posts/{post.id}#comment-{comment.id}"
    assert seen_by_alice.event["message"] == "밥님: 첫 댓글"
    assert alice_tab.drain() == [] and bob_tab.drain() == []
    assert world.notifier.events_published == {"post.created": 1, "comment.created": 1}


def test_a_write_and_its_notification_commit_together_or_not_at_all(world, users, monkeypatch):
    """The comment and its notification share one transaction: a rollback leaves neither,
    and nothing is published; a commit stores both and publishes from the writing thread."""
    a, b = users["alice"], users["bob"]
    monkeypatch.setattr(services, "bus", world.bus)
    alice_tab = world.tab(a)
    post = services.create_post(a, PostIn(title="제목"))

    class Boom(Exception):
        pass

    def failing_commit(self):
        raise Boom  # e.g. the database went away between the inserts and the commit

    async def main():
        world.start()
        with monkeypatch.context() as m:
            m.setattr("sqlmodel.Session.commit", failing_commit)
            with pytest.raises(Boom):
                await asyncio.to_thread(services.create_comment, b, post.id, CommentIn(content="lost"))
        await world.settle()
        nothing = alice_tab.drain()
        stored_after_rollback = log.replay(a, 0)
        comment = await asyncio.to_thread(services.create_comment, b, post.id, CommentIn(content="kept"))
        item = await alice_tab.next_item(timeout=5)
        return nothing, stored_after_rollback, comment, item

    nothing, stored_after_rollback, comment, item = run(main())
    assert nothing == [] and stored_after_rollback == []
    assert [c.content for c in services.get_post(post.id).comments] == ["kept"]  # the failed one is not there
    assert item.event["href"] == f"/posts/{post.id}#comment-{comment.id}"
    assert [p.seq for p in log.replay(a, 0)] == [item.seq]
    assert world.notifier.events_published == {"comment.created": 1}
