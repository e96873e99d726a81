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
from collections import deque
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Channel = tuple[str, str]

USER = "user"


def user_channel(user_id: int | str) -> Channel:
    return (USER, str(user_id))


class SubscriptionClosed(Exception):
    """The subscription ended: closed by its owner, or dropped for falling behind."""


class Subscription(Generic[T]):
    """One consumer's bounded buffer. Iterate it, or `await next_item(timeout)`.

    Use it as a context manager (or call `close`): leaving it unregisters it at once.
    """

    __slots__ = ("_registry", "channels", "_items", "_maxsize", "_waiter", "closed", "overflowed")

    def __init__(self, registry: SubscriberRegistry, channels: tuple[Channel, ...], maxsize: int) -> None:
        self._registry = registry
        self.channels = channels
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._waiter: asyncio.Future | None = None
        self.closed = False
        self.overflowed = False

    def _offer(self, item: T) -> bool:
        """Buffer an item; False if the buffer is full (the caller then closes us)."""
        if len(self._items) >= self._maxsize:
            return False
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    async def next_item(self, timeout: float | None = None) -> T | None:
        """The next item; None if `timeout` seconds pass first. Raises SubscriptionClosed."""
        if self._items:
            return self._items.popleft()
        if self.closed:
            raise SubscriptionClosed
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _wake, waiter) if timeout is not None else None
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        if self._items:
            return self._items.popleft()
        if self.closed:
            raise SubscriptionClosed
        return None

    def drain(self) -> list[T]:
        """Everything buffered now, without waiting."""
        items = list(self._items)
        self._items.clear()
        return items

    def close(self, *, overflow: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        self.overflowed = overflow
        if overflow:
            self._items.clear()
        self._registry._remove(self)
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


def _wake(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


class SubscriberRegistry:
    """Subscriptions by channel, indexed by kind so a broadcast walks one kind only."""

    def __init__(self, default_maxsize: int = 256) -> None:
        self.default_maxsize = default_maxsize
        self._kinds: dict[str, dict[str, set[Subscription]]] = {}
        self.dropped = 0  # subscriptions closed for falling behind

    # -- subscribing ---------------------------------------------------------------
    def subscribe(self, *channels: Channel, maxsize: int | None = None) -> Subscription:
        if not channels:
            raise ValueError("subscribe to at least one channel")
        channels = tuple(dict.fromkeys(channels))
        sub: Subscription = Subscription(self, channels, maxsize or self.default_maxsize)
        for kind, key in channels:
            self._kinds.setdefault(kind, {}).setdefault(key, set()).add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        for kind, key in sub.channels:
            keys = self._kinds.get(kind)
            if keys is None:
                continue
            subs = keys.get(key)
            if subs is None:
                continue
            subs.discard(sub)
            if not subs:
                del keys[key]
                if not keys:
                    del self._kinds[kind]

    # -- publishing ----------------------------------------------------------------
    def _deliver(self, subs: Iterable[Subscription], item: Any) -> int:
        delivered = 0
        laggards = None
        for sub in subs:
            if sub._offer(item):
                delivered += 1
            else:
                laggards = laggards or []
                laggards.append(sub)
        if laggards:
            self.dropped += len(laggards)
            for sub in laggards:
                sub.close(overflow=True)
        return delivered

    def publish(self, channel: Channel, item: Any) -> int:
        """Deliver to every subscriber of one channel. Returns how many got it."""
        subs = self._kinds.get(channel[0], {}).get(channel[1])
        return self._deliver(subs, item) if subs else 0

    def publish_many(self, channels: Iterable[Channel], item: Any) -> int:
        """Deliver once to each subscriber of any of the channels (duplicates collapsed)."""
        targets: set[Subscription] = set()
        for kind, key in set(channels):
            subs = self._kinds.get(kind, {}).get(key)
            if subs:
                targets.update(subs)
        return self._deliver(targets, item)

    def broadcast(self, kind: str, item: Any, *, exclude: Iterable[str] = ()) -> int:
        """Deliver to every subscriber of every channel of a kind, except the excluded keys."""
        keys = self._kinds.get(kind)
        if not keys:
            return 0
        excluded = set(exclude)
        delivered = 0
        for key, subs in list(keys.items()):
            if key not in excluded:
                delivered += self._deliver(subs, item)
        return delivered

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
        """Subscriptions per channel kind."""
        return {kind: sum(len(s) for s in keys.values()) for kind, keys in self._kinds.items()}

    def total(self) -> int:
        seen: set[int] = set()
        for keys in self._kinds.values():
            for subs in keys.values():
                seen.update(id(s) for s in subs)
        return len(seen)
