"""The subscriber registry: who is listening on which channel, in this process.

A channel is a `(kind, key)` pair: `("user", "12")` is user 12's notifications; chat rooms,
entity updates and system status use other kinds. `subscribe` returns a `Subscription`,
an async iterator over a bounded buffer. Publishing never waits: a subscriber whose buffer
is full is closed (its client reconnects and replays from the log) so that one slow or
dead consumer cannot hold up the publisher or anyone else.

Everything here runs on the event loop's thread; nothing blocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from notifier_app.realtime.timeouts import Tick, Ticks
from notifier_app.realtime.writes import WriteCoalescer

T = TypeVar("T")
Channel = tuple[str, str]

USER = "user"
# "This user's read marks changed": browser tabs on every worker recount the unread badge.
READS = "reads"


def user_channel(user_id: int | str) -> Channel:
    return (USER, str(user_id))


def reads_channel(user_id: int | str) -> Channel:
    return (READS, str(user_id))


class SubscriptionClosed(Exception):
    """The subscription ended: closed by its owner, or dropped for falling behind."""


class Subscription(Generic[T]):
    """One consumer's bounded buffer. Iterate it, or `await next_item(timeout)`.

    Use it as a context manager (or call `close`): leaving it unregisters it at once.
    """

    __slots__ = (
        "_registry", "channels", "_items", "_maxsize", "_waiter", "_deadline", "_tick", "sink", "closed", "overflowed"
    )

    def __init__(self, registry: SubscriberRegistry, channels: tuple[Channel, ...], maxsize: int) -> None:
        self._registry = registry
        self.channels = channels
        # A list, not a deque: an empty deque allocates a 64-slot block (~0.7 KB per
        # idle stream); the buffer is short and usually drained whole. Empty, it is the
        # shared empty tuple: most streams never buffer (their sink writes at once).
        self._items: list[T] | tuple[()] = ()
        self._maxsize = maxsize
        self._waiter: asyncio.Future | None = None
        self._deadline: float | None = None  # loop time at which the current wait times out
        self._tick: Tick | None = None  # where the registry's ticks call on_tick (timeouts.py)
        # Optional: takes an item at once instead of buffering it (True: taken). The SSE
        # stream sets one when its server writes at call time (see streams.py), so a
        # broadcast writes to every socket in one pass, as Node does, instead of waking
        # one task per subscriber. Only used while nothing is buffered, so order holds.
        self.sink: Callable[[T], bool] | None = None
        self.closed = False
        self.overflowed = False

    def _offer(self, item: T) -> bool:
        """Buffer an item; False if the buffer is full (the caller then closes us)."""
        items = self._items
        if items:
            if len(items) >= self._maxsize:
                return False
            items.append(item)
        elif self.sink is not None and self.sink(item):
            return True
        else:
            self._items = [item]
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    async def next_item(self, timeout: float | None = None) -> T | None:
        """The next item; None if `timeout` seconds pass first. Raises SubscriptionClosed."""
        waiter = self.wait(timeout)
        if waiter is not None:
            await waiter
        return self.take()

    def wait(self, timeout: float | None) -> asyncio.Future | None:
        """What to await before `take()`, or None when there is something to take now.

        `next_item` in two halves, for the stream's hot path: an idle stream then waits
        on this future alone rather than on a coroutine of its own too (bench/README.md).
        """
        if self._items or self.closed:
            return None
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        if timeout is None:
            self._deadline = None
        else:
            # Armed once, not per wait: a stream that gets an event every second with a
            # 15 s timeout would otherwise arm a timeout per event. A tick that falls due
            # before the current deadline arms the next one (on_tick).
            deadline = self._deadline = loop.time() + timeout
            tick = self._tick
            if tick is None or not tick.covers(loop, deadline):
                self._registry.ticks.arm(self, loop, deadline)
        return waiter

    def take(self) -> T | None:
        """The next buffered item, None if there is none (the wait timed out). Raises
        SubscriptionClosed once closed and drained."""
        if self._items:
            return self._items.pop(0)
        if self.closed:
            raise SubscriptionClosed
        return None

    @property
    def writes(self) -> WriteCoalescer:
        """Where a sink that writes at call time learns whether to write now or gather."""
        return self._registry.writes

    def postpone(self, seconds: float, now: float) -> None:
        """Restart the current wait's timeout (an item went out through the sink at the
        loop's time `now`)."""
        if self._deadline is not None:
            self._deadline = now + seconds

    def on_tick(self) -> None:
        waiter, deadline = self._waiter, self._deadline
        if waiter is None or deadline is None or waiter.done():
            return  # nobody is waiting with a timeout: the next wait arms again
        loop = waiter.get_loop()
        if loop.time() >= deadline:
            waiter.set_result(None)
        else:
            self._registry.ticks.arm(self, loop, deadline)

    def drain(self) -> list[T]:
        """Everything buffered now, without waiting."""
        items, self._items = self._items, ()
        return items or []

    def close(self, *, overflow: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        self.overflowed = overflow
        self.sink = None
        if overflow:
            self._items = ()
        self._registry._remove(self)
        self._tick = None  # its tick skips it
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        while True:
            try:
                item = await self.next_item()
            except SubscriptionClosed:
                raise StopAsyncIteration from None
            if item is not None:
                return item

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# A channel's subscriptions: a tuple while there are few (a user's one or two tabs: 48
# bytes for one, where an empty set alone is 216), a set once there are many (a chat room,
# a page everyone has open), so joining and leaving stay O(1) there.
Members = tuple["Subscription", ...] | set["Subscription"]
FEW = 8


def _joined(subs: Members, sub: Subscription) -> Members:
    if type(subs) is tuple:
        return subs + (sub,) if len(subs) < FEW else {*subs, sub}
    subs.add(sub)
    return subs


def _without(subs: Members, sub: Subscription) -> Members:
    if type(subs) is tuple:
        return tuple(s for s in subs if s is not sub)
    subs.discard(sub)
    return subs


class SubscriberRegistry:
    """Subscriptions by channel, indexed by kind so a broadcast walks one kind only."""

    def __init__(self, default_maxsize: int = 256) -> None:
        self.default_maxsize = default_maxsize
        self._kinds: dict[str, dict[str, Members]] = {}
        self.dropped = 0  # subscriptions closed for falling behind
        # While a publish walks the channels' members, subscriptions closed meanwhile (a sink
        # dropping a client that stopped reading: streams.py, MAX_QUEUED) leave after it:
        # changing a set under the walk raised, and the fan-out stopped there.
        self._publishing = False
        self._leaving: list[Subscription] = []
        # Sinks that write at call time ask it whether to write now or gather (writes.py).
        self.writes = WriteCoalescer()
        self.ticks = Ticks()  # the subscriptions' timeouts
        # Kept as subscriptions come and go, so that counting them costs nothing: the
        # public status (status.py) used to walk every subscription, ~8 ms at 10,000.
        self._total = 0
        self._per_kind: dict[str, int] = {}  # a subscription to two entities counts once

    # -- subscribing ---------------------------------------------------------------
    def subscribe(self, *channels: Channel, maxsize: int | None = None) -> Subscription:
        if not channels:
            raise ValueError("subscribe to at least one channel")
        channels = tuple(dict.fromkeys(channels))
        sub: Subscription = Subscription(self, channels, maxsize or self.default_maxsize)
        for kind, key in channels:
            keys = self._kinds.setdefault(kind, {})
            keys[key] = _joined(keys.get(key, ()), sub)
        self._count(sub, 1)
        return sub

    def _count(self, sub: Subscription, step: int) -> None:
        self._total += step
        per_kind = self._per_kind
        for kind in {kind for kind, _key in sub.channels}:
            left = per_kind.get(kind, 0) + step
            if left:
                per_kind[kind] = left
            else:
                del per_kind[kind]

    def _remove(self, sub: Subscription) -> None:
        if self._publishing:
            self._leaving.append(sub)
            return
        self._count(sub, -1)
        for kind, key in sub.channels:
            keys = self._kinds.get(kind)
            if keys is None:
                continue
            subs = keys.get(key)
            if subs is None:
                continue
            subs = keys[key] = _without(subs, sub)
            if not subs:
                del keys[key]
                if not keys:
                    del self._kinds[kind]

    # -- publishing ----------------------------------------------------------------
    def _deliver(self, groups: Iterable[Iterable[Subscription]], item: Any, size: int) -> int:
        """One publish: offer the item to every subscription of every group; close the
        ones that are full. `size`: how many subscriptions that is (for `writes`)."""
        delivered = 0
        laggards = None
        self.writes.begin(size)
        self._publishing = True
        try:
            for subs in groups:
                for sub in subs:
                    if sub._offer(item):
                        delivered += 1
                    else:
                        laggards = laggards or []
                        laggards.append(sub)
        finally:
            self._publishing = False
            self.writes.end()
            if self._leaving:
                leaving, self._leaving = self._leaving, []
                for sub in leaving:
                    self._remove(sub)
        if laggards:
            self.dropped += len(laggards)
            for sub in laggards:
                sub.close(overflow=True)
        return delivered

    def publish(self, channel: Channel, item: Any) -> int:
        """Deliver to every subscriber of one channel. Returns how many got it."""
        subs = self._kinds.get(channel[0], {}).get(channel[1])
        return self._deliver((subs,), item, len(subs)) if subs else 0

    def publish_many(self, channels: Iterable[Channel], item: Any) -> int:
        """Deliver once to each subscriber of any of the channels (duplicates collapsed)."""
        targets: set[Subscription] = set()
        for kind, key in set(channels):
            subs = self._kinds.get(kind, {}).get(key)
            if subs:
                targets.update(subs)
        return self._deliver((targets,), item, len(targets)) if targets else 0

    def broadcast(self, kind: str, item: Any, *, exclude: Iterable[str] = ()) -> int:
        """Deliver to every subscriber of every channel of a kind, except the excluded keys."""
        keys = self._kinds.get(kind)
        if not keys:
            return 0
        excluded = set(exclude)
        groups = [subs for key, subs in keys.items() if key not in excluded]
        return self._deliver(groups, item, sum(map(len, groups)))

    # -- user channels, the main use -----------------------------------------------
    def notify_user(self, user_id: int | str, item: Any) -> int:
        return self.publish(user_channel(user_id), item)

    def notify_users(self, user_ids: Iterable[int | str], item: Any) -> int:
        return self.publish_many((user_channel(u) for u in user_ids), item)

    def broadcast_users(self, item: Any, *, exclude_user: int | str | None = None) -> int:
        return self.broadcast(USER, item, exclude=() if exclude_user is None else (str(exclude_user),))

    # -- introspection -------------------------------------------------------------
    def subscribers(self, channel: Channel) -> int:
        return len(self._kinds.get(channel[0], {}).get(channel[1], ()))

    def channel_count(self, kind: str) -> int:
        return len(self._kinds.get(kind, {}))

    def connection_counts(self) -> dict[str, int]:
        """Subscriptions per channel kind, each counted once: one stream following
        `entity=post:1&entity=feed:posts` is one entity connection, not two."""
        return dict(self._per_kind)

    def total(self) -> int:
        """Subscriptions, each counted once."""
        return self._total
