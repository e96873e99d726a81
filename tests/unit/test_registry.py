"""SubscriberRegistry / Subscription: fan-out, cleanup, duplicates, slow subscribers."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from notifier_app.realtime.registry import (
    FEW,
    SubscriberRegistry,
    Subscription,
    SubscriptionClosed,
    user_channel,
)
from tests.unit.conftest import run


def test_user_channel_key_is_a_string():
    assert user_channel(12) == ("user", "12")
    assert user_channel("12") == user_channel(12)


def test_subscribe_needs_a_channel():
    with pytest.raises(ValueError):
        SubscriberRegistry().subscribe()


def test_every_subscriber_of_a_user_gets_the_item_and_no_one_else():
    reg = SubscriberRegistry()
    tabs = [reg.subscribe(user_channel(1)) for _ in range(3)]
    other = reg.subscribe(user_channel(2))

    assert reg.subscribers(user_channel(1)) == 3
    assert reg.notify_user(1, "hello") == 3
    assert reg.notify_user("1", "again") == 3  # int and str ids are the same channel

    for tab in tabs:
        assert tab.drain() == ["hello", "again"]
    assert other.drain() == []


def test_close_removes_the_entry_and_the_key_goes_with_the_last_one():
    reg = SubscriberRegistry()
    a, b = reg.subscribe(user_channel(1)), reg.subscribe(user_channel(1))
    other = reg.subscribe(user_channel(2))
    assert reg.channel_count("user") == 2
    assert reg.connection_counts() == {"user": 3}
    assert reg.total() == 3

    a.close()
    assert a.closed and not a.overflowed
    assert reg.subscribers(user_channel(1)) == 1
    assert reg.channel_count("user") == 2
    assert reg.connection_counts() == {"user": 2}
    assert reg.notify_user(1, "x") == 1
    assert a.drain() == []

    b.close()
    assert reg.subscribers(user_channel(1)) == 0
    assert reg.channel_count("user") == 1  # user 1's key is gone
    assert reg._kinds["user"].keys() == {"2"}
    assert reg.notify_user(1, "y") == 0

    other.close()
    assert reg.channel_count("user") == 0
    assert reg.connection_counts() == {}
    assert reg.total() == 0

    other.close()  # idempotent
    assert reg.total() == 0


def test_context_manager_exit_unregisters():
    reg = SubscriberRegistry()
    with reg.subscribe(user_channel(1)) as sub:
        assert isinstance(sub, Subscription)
        assert reg.subscribers(user_channel(1)) == 1
    assert sub.closed
    assert reg.subscribers(user_channel(1)) == 0
    assert reg.connection_counts() == {}


def test_context_manager_unregisters_on_error_too():
    reg = SubscriberRegistry()
    with pytest.raises(RuntimeError):
        with reg.subscribe(user_channel(1)):
            raise RuntimeError("boom")
    assert reg.total() == 0


def test_notify_users_collapses_duplicate_ids():
    reg = SubscriberRegistry()
    sub = reg.subscribe(user_channel(1))
    assert reg.notify_users([1, 1, "1"], "once") == 1
    assert sub.drain() == ["once"]


def test_a_subscription_on_two_listed_channels_gets_the_item_once():
    reg = SubscriberRegistry()
    both = reg.subscribe(user_channel(1), user_channel(2))
    only2 = reg.subscribe(user_channel(2))
    assert reg.subscribers(user_channel(1)) == 1
    assert reg.subscribers(user_channel(2)) == 2

    assert reg.notify_users([1, 2], "item") == 2
    assert both.drain() == ["item"]
    assert only2.drain() == ["item"]

    assert reg.publish_many([user_channel(1), user_channel(2), user_channel(1)], "again") == 2
    assert both.drain() == ["again"]
    assert only2.drain() == ["again"]

    both.close()  # leaves both channels
    assert reg.subscribers(user_channel(1)) == 0
    assert reg.subscribers(user_channel(2)) == 1


def test_subscribing_twice_to_one_channel_counts_once():
    reg = SubscriberRegistry()
    sub = reg.subscribe(user_channel(1), user_channel(1))
    assert sub.channels == (user_channel(1),)
    assert reg.notify_user(1, "x") == 1
    assert sub.drain() == ["x"]


def test_broadcast_users_excludes_the_given_user():
    reg = SubscriberRegistry()
    u1, u2a, u2b, u3 = (reg.subscribe(user_channel(u)) for u in (1, 2, 2, 3))
    room = reg.subscribe(("room", "lobby"))

    assert reg.broadcast_users("news", exclude_user=2) == 2
    assert u1.drain() == ["news"] and u3.drain() == ["news"]
    assert u2a.drain() == [] and u2b.drain() == []
    assert room.drain() == []  # other kinds are not users

    assert reg.broadcast_users("all", exclude_user="1") == 3
    assert u1.drain() == []
    assert [s.drain() for s in (u2a, u2b, u3)] == [["all"]] * 3
    assert reg.broadcast_users("everyone") == 4
    assert [s.drain() for s in (u1, u2a, u2b, u3)] == [["everyone"]] * 4


def test_publishing_to_nobody_is_fine():
    reg = SubscriberRegistry()
    assert reg.notify_user(1, "x") == 0
    assert reg.notify_users([1, 2], "x") == 0
    assert reg.broadcast_users("x") == 0
    assert reg.publish(("room", "a"), "x") == 0


def test_slow_subscriber_is_dropped_without_holding_up_the_others():
    assert not inspect.iscoroutinefunction(SubscriberRegistry.publish)
    assert not inspect.iscoroutinefunction(SubscriberRegistry.notify_user)
    assert not inspect.iscoroutinefunction(SubscriberRegistry.broadcast_users)

    reg = SubscriberRegistry()
    slow = reg.subscribe(user_channel(1), maxsize=2)  # never reads
    fast = reg.subscribe(user_channel(1), maxsize=2)
    received = []

    # Plain synchronous calls outside any event loop: publishing cannot await anything.
    delivered = []
    for i in range(5):
        delivered.append(reg.notify_user(1, i))
        received.extend(fast.drain())

    assert delivered == [2, 2, 1, 1, 1]  # the 3rd publish overflowed the slow one
    assert received == [0, 1, 2, 3, 4]
    assert slow.closed and slow.overflowed
    assert reg.dropped == 1
    assert slow.drain() == []  # its buffer was discarded
    assert reg.subscribers(user_channel(1)) == 1
    assert not fast.closed and not fast.overflowed

    with pytest.raises(SubscriptionClosed):
        run(slow.next_item(timeout=1))


def test_slow_subscriber_is_dropped_by_a_broadcast_too():
    reg = SubscriberRegistry()
    slow = reg.subscribe(user_channel(1), maxsize=1)
    fast = reg.subscribe(user_channel(2), maxsize=1)
    assert reg.broadcast_users("a") == 2
    fast.drain()
    assert reg.broadcast_users("b") == 1
    assert slow.overflowed and reg.dropped == 1
    assert reg.channel_count("user") == 1
    assert fast.drain() == ["b"]


def test_default_maxsize_applies_when_not_given():
    reg = SubscriberRegistry(default_maxsize=3)
    sub = reg.subscribe(user_channel(1))
    for i in range(3):
        assert reg.notify_user(1, i) == 1
    assert reg.notify_user(1, 3) == 0
    assert sub.overflowed


def test_next_item_returns_buffered_items_in_order():
    reg = SubscriberRegistry()
    sub = reg.subscribe(user_channel(1))
    reg.notify_user(1, "a")
    reg.notify_user(1, "b")

    async def two():
        return [await sub.next_item(), await sub.next_item(timeout=0)]

    assert run(two()) == ["a", "b"]


def test_next_item_returns_none_after_the_timeout():
    reg = SubscriberRegistry()
    sub = reg.subscribe(user_channel(1))
    assert run(sub.next_item(timeout=0.01)) is None
    assert not sub.closed
    assert reg.subscribers(user_channel(1)) == 1  # a quiet period is not a disconnect


def test_next_item_wakes_when_an_item_is_published():
    reg = SubscriberRegistry()
    sub = reg.subscribe(user_channel(1))

    async def main():
        # Runs once next_item is already waiting (call_soon callbacks run after this step).
        asyncio.get_running_loop().call_soon(reg.notify_user, 1, "live")
        return await sub.next_item(timeout=5)

    assert run(main()) == "live"


def test_close_wakes_a_waiting_consumer():
    reg = SubscriberRegistry()
    sub = reg.subscribe(user_channel(1))

    async def main():
        asyncio.get_running_loop().call_soon(sub.close)
        await sub.next_item(timeout=5)

    with pytest.raises(SubscriptionClosed):
        run(main())
    assert reg.total() == 0


def test_closed_subscription_raises_subscription_closed():
    reg = SubscriberRegistry()
    sub = reg.subscribe(user_channel(1))
    sub.close()
    with pytest.raises(SubscriptionClosed):
        run(sub.next_item())
    assert reg.notify_user(1, "late") == 0


def test_async_for_yields_items_and_ends_when_closed():
    reg = SubscriberRegistry()
    sub = reg.subscribe(user_channel(1))
    reg.notify_user(1, "a")
    reg.notify_user(1, "b")

    async def main():
        got = []
        async for item in sub:
            got.append(item)
            if item == "b":
                # Closed while the loop waits for a third item: the iteration must end.
                asyncio.get_running_loop().call_soon(sub.close)
        return got

    assert run(main()) == ["a", "b"]
    assert sub.closed


def test_async_for_over_an_already_closed_subscription_ends_at_once():
    reg = SubscriberRegistry()
    sub = reg.subscribe(user_channel(1))
    sub.close()

    async def main():
        return [item async for item in sub]

    assert run(main()) == []


def test_cancelled_waiter_leaves_the_subscription_usable():
    reg = SubscriberRegistry()
    sub = reg.subscribe(user_channel(1))

    async def main():
        waiting = asyncio.ensure_future(sub.next_item())
        await asyncio.sleep(0)  # let it start waiting
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        reg.notify_user(1, "after")
        return await sub.next_item(timeout=1)

    assert run(main()) == "after"


@pytest.mark.parametrize("publish", ["broadcast", "user", "users"])
def test_a_sink_that_closes_its_subscription_while_offered_does_not_stop_the_fan_out(publish):
    # A stream whose client stopped reading closes its feed from inside the publisher's
    # pass (streams.py, MAX_QUEUED): the others in that pass, of that user or another,
    # must still get the item.
    reg = SubscriberRegistry()
    dropping = reg.subscribe(user_channel(1))
    same_user = reg.subscribe(user_channel(1))
    other_user = reg.subscribe(user_channel(2))

    def sink(item):
        dropping.close()
        return False

    dropping.sink = sink
    if publish == "broadcast":
        reg.broadcast_users("hello")
    elif publish == "user":
        reg.notify_user(1, "hello")
    else:
        reg.notify_users([1, 2], "hello")

    assert dropping.closed
    assert same_user.drain() == ["hello"]
    if publish != "user":
        assert other_user.drain() == ["hello"]
    assert reg.subscribers(user_channel(1)) == 1


def test_a_channel_growing_past_a_few_members_and_shrinking_again_keeps_count():
    # Few members are kept in a tuple, many in a set (registry.py, FEW): across the switch
    # every member still gets each item once, and leaving works from either form.
    reg = SubscriberRegistry()
    room = ("chat", "lobby")
    subs = [reg.subscribe(room) for _ in range(FEW * 2)]
    assert reg.publish(room, "all") == FEW * 2
    for n, sub in enumerate(subs[::2] + subs[1::2]):
        sub.close()
        assert reg.subscribers(room) == FEW * 2 - n - 1
        assert reg.publish(room, n) == FEW * 2 - n - 1
    assert reg.channel_count("chat") == 0
    assert [sub.drain()[0] for sub in subs] == ["all"] * (FEW * 2)


def counted_by_walking(reg: SubscriberRegistry) -> tuple[int, dict[str, int]]:
    """What the counts must be: every subscription in the index, once in all and once per kind."""
    per_kind = {kind: len(set().union(*keys.values())) for kind, keys in reg._kinds.items()}
    everyone = set().union(*(subs for keys in reg._kinds.values() for subs in keys.values()))
    return len(everyone), {kind: n for kind, n in per_kind.items() if n}


def test_the_counts_follow_subscriptions_through_closes_overflows_and_closes_during_a_publish():
    # The counts are kept as subscriptions come and go (status.py reads them at every
    # request): after any mix of what can happen, they are what walking the index says.
    import random

    rng = random.Random(7)
    reg = SubscriberRegistry(default_maxsize=3)
    channels = [user_channel(u) for u in range(6)] + [("entity", f"post:{p}") for p in range(4)] + [("room", "general")]
    live: list[Subscription] = []
    for step in range(3000):
        action = rng.random()
        if action < 0.45:
            live.append(reg.subscribe(*rng.sample(channels, rng.randint(1, 3))))
        elif action < 0.7 and live:
            live.pop(rng.randrange(len(live))).close()
        elif action < 0.8 and live:
            # a sink that closes another subscription (or its own) while the publish walks
            victim = rng.choice(live)
            rng.choice(live).sink = lambda _item, victim=victim: (victim.close(), False)[1]
        elif action < 0.9:
            reg.broadcast(rng.choice(["user", "entity", "room"]), step)  # the full ones overflow
        else:
            for sub in live:
                sub.drain()
        live = [s for s in live if not s.closed]
        assert (reg.total(), reg.connection_counts()) == counted_by_walking(reg), step
    for sub in live:
        sub.close()
    assert (reg.total(), reg.connection_counts()) == (0, {})


def test_a_subscription_to_two_entities_is_one_entity_connection():
    reg = SubscriberRegistry()
    both = reg.subscribe(("entity", "post:1"), ("entity", "feed:posts"))
    reg.subscribe(("entity", "post:1"), ("room", "general"))
    assert reg.connection_counts() == {"entity": 2, "room": 1} and reg.total() == 2
    both.close()
    assert reg.connection_counts() == {"entity": 1, "room": 1} and reg.total() == 1
