"""The Dispatcher: exactly-once, in-order delivery to this process, gaps filled from the log."""

from __future__ import annotations

import asyncio

from notifier_app.realtime import broker, events, log
from notifier_app.realtime.broker import Dispatcher
from notifier_app.realtime.log import Published
from notifier_app.realtime.messages import Message
from notifier_app.realtime.redis_broker import decode, encode
from notifier_app.realtime.registry import SubscriberRegistry, user_channel
from tests.unit.conftest import run


def event(n: int) -> dict:
    return events.post_created(post_id=n, title=f"t{n}", author_id=1, author_nickname="a")


def published(seq: int, user_id: int | None = 2) -> Published:
    return Published.build(seq, event(seq), user_id, None)


def received(sub) -> list[int]:
    return [p.seq for p in sub.drain()]


def test_in_order_duplicates_dropped():
    async def main():
        registry = SubscriberRegistry()
        dispatcher = Dispatcher(registry)
        dispatcher.start(0)
        sub = registry.subscribe(user_channel(2))
        for seq in (1, 2, 2, 1, 3):
            dispatcher.offer(published(seq))
        return received(sub)

    assert run(main()) == [1, 2, 3]


def test_a_late_message_is_held_back_until_the_earlier_one_arrives():
    async def main():
        registry = SubscriberRegistry()
        dispatcher = Dispatcher(registry)
        dispatcher.start(0)
        sub = registry.subscribe(user_channel(2))
        dispatcher.offer(published(2))
        assert received(sub) == []  # 1 is missing: wait for it
        dispatcher.offer(published(1))
        return received(sub)

    assert run(main()) == [1, 2]


def test_a_gap_is_filled_from_the_log(database, users, monkeypatch):
    monkeypatch.setattr(broker, "GAP_HOLD_SECONDS", 0.01)

    async def main():
        registry = SubscriberRegistry()
        dispatcher = Dispatcher(registry)
        dispatcher.start(0)
        sub = registry.subscribe(user_channel(users["bob"]))
        rows = [await asyncio.to_thread(log.append, event(n), user_id=users["bob"]) for n in range(3)]
        dispatcher.offer(rows[2])  # rows[0] and rows[1] never arrive by the transport
        await asyncio.wait_for(dispatcher._gap_task, 5)
        return [p.seq for p in sub.drain()], [r.seq for r in rows], dispatcher.gaps_filled

    got, expected, gaps = run(main())
    assert got == expected and gaps == 1


def test_catch_up_delivers_what_the_log_has_beyond_the_last_delivered(database, users):
    async def main():
        registry = SubscriberRegistry()
        dispatcher = Dispatcher(registry)
        dispatcher.start(await asyncio.to_thread(log.last_seq))
        sub = registry.subscribe(user_channel(users["bob"]))
        rows = [await asyncio.to_thread(log.append, event(n), user_id=users["bob"]) for n in range(3)]
        assert await dispatcher.catch_up() == 3
        assert await dispatcher.catch_up() == 0
        return [p.seq for p in sub.drain()], [r.seq for r in rows]

    got, expected = run(main())
    assert got == expected


def test_channel_messages_are_counted_by_type_and_delivered():
    async def main():
        registry = SubscriberRegistry()
        dispatcher = Dispatcher(registry)
        sub = registry.subscribe(("room", "general"))
        dispatcher.deliver_message(Message.build(("room", "general"), {"message": "hi"}, 7))
        return sub.drain(), dispatcher.messages

    items, counts = run(main())
    assert [m.id for m in items] == [7] and counts == {"chat.message": 1}


def test_redis_wire_format_round_trips_both_kinds():
    note = published(5, user_id=None)
    origin, back = decode(encode(note, "me"))
    assert origin == "me" and back.seq == 5 and back.event == note.event and back.frame == note.frame
    message = Message.build(("entity", "post:1"), {"action": "x"})
    origin, back = decode(encode(message, "other"))
    assert origin == "other" and back.channel == ("entity", "post:1") and back.frame == message.frame


def test_a_fresh_feed_starts_where_the_dispatcher_is_without_reading_the_log(monkeypatch):
    """Subscribing in the same step as reading the dispatcher's position misses nothing:
    what it delivered before is the past, everything after reaches the new feed — even a
    notification committed earlier but still held back behind a gap."""
    from notifier_app.realtime.feeds import NotificationFeed

    def no_log(*_args, **_kwargs):
        raise AssertionError("a fresh connect must not read the log")

    monkeypatch.setattr(log, "last_seq", no_log)
    monkeypatch.setattr(log, "replay", no_log)

    async def main():
        registry = SubscriberRegistry()
        dispatcher = Dispatcher(registry)
        dispatcher.start(0)
        dispatcher.offer(published(1))  # before the connect
        dispatcher.offer(published(3))  # held: 2 is not there yet
        feed = await NotificationFeed.open(registry, 2, None, dispatcher)
        assert feed.last_seq == 1
        dispatcher.offer(published(2))
        first = await feed.next_batch(timeout=1)
        return [p.seq for p in first]

    assert run(main()) == [2, 3]
