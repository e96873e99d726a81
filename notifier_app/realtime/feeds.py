"""Feeds: what one stream connection sends, in order.

`NotificationFeed` is a user's notifications: first a replay from the log (on resume),
then live events from the registry, with no gap and no duplicate. The subscription is
made *before* the log is read, and live items whose seq was already replayed are skipped:
an event is either committed before the read (so replayed) or published after the
subscription (so buffered), and possibly both.
"""

from __future__ import annotations

import asyncio
from collections import deque

from notifier_app.realtime import events, log, sse
from notifier_app.realtime.log import Published
from notifier_app.realtime.registry import SubscriberRegistry, Subscription, user_channel


class NotificationFeed:
    def __init__(self, subscription: Subscription, user_id: int, last_seq: int) -> None:
        self.subscription = subscription
        self.user_id = user_id
        self.last_seq = last_seq
        self._backlog: deque[bytes] = deque()
        self._more_in_log = False

    @classmethod
    async def open(cls, registry: SubscriberRegistry, user_id: int, last_event_id: int | None) -> NotificationFeed:
        subscription = registry.subscribe(user_channel(user_id))
        try:
            if last_event_id is None:
                newest = await asyncio.to_thread(log.last_seq)
                return cls(subscription, user_id, newest)
            feed = cls(subscription, user_id, last_event_id)
            await feed._resume(last_event_id)
            return feed
        except BaseException:
            subscription.close()
            raise

    async def _resume(self, last_event_id: int) -> None:
        def check() -> tuple[int, int]:
            return log.pruned_through(), log.last_seq()

        floor, newest = await asyncio.to_thread(check)
        if last_event_id > newest:
            # The client is ahead of the log (it was reset): start afresh from now.
            self._backlog.append(sse.frame(events.stream_reset()))
            self.last_seq = newest
            return
        if last_event_id < floor:
            self._backlog.append(sse.frame(events.stream_reset()))
        await self._load_backlog()

    async def _load_backlog(self) -> None:
        rows = await asyncio.to_thread(log.replay, self.user_id, self.last_seq)
        for published in rows:
            self._backlog.append(published.frame)
        if rows:
            self.last_seq = rows[-1].seq
        self._more_in_log = len(rows) >= log.REPLAY_LIMIT

    async def next_frame(self, timeout: float) -> bytes | None:
        if self._backlog:
            return self._take_backlog()
        if self._more_in_log:
            await self._load_backlog()
            if self._backlog:
                return self._take_backlog()
        sub = self.subscription
        item: Published | None = await sub.next_item(timeout)
        if item is None:
            return None
        chunks = []
        for published in (item, *sub.drain()):
            if published.seq > self.last_seq:
                self.last_seq = published.seq
                chunks.append(published.frame)
        return b"".join(chunks) if chunks else await self.next_frame(timeout)

    def _take_backlog(self) -> bytes:
        chunks = b"".join(self._backlog)
        self._backlog.clear()
        return chunks

    def close(self) -> None:
        self.subscription.close()
