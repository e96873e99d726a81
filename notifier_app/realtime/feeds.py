"""Feeds: what one subscriber receives, in order.

`NotificationFeed` is a user's notifications: first a replay from the log (on resume),
then live events from the registry, with no gap and no duplicate. The subscription is
made *before* the log is read, and live items whose seq was already replayed are skipped:
an event is either committed before the read (so replayed) or published after the
subscription (so buffered), and possibly both.

The SSE endpoint reads it as frames (`take_frame`); an in-process reader can take the
same feed as `Published` batches (`next_batch`). Browser tabs do not use a feed each: one
subscription per user feeds all of a user's tabs (state/tabs.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from notifier_app.batching import BatchedReads
from notifier_app.realtime import events, log
from notifier_app.realtime.broker import Dispatcher
from notifier_app.realtime.log import Published
from notifier_app.realtime.registry import SubscriberRegistry, Subscription, user_channel

# Streams resuming at the same time read the log together: one transaction and one hop
# to a worker thread for a batch of them, not two hops and three transactions each. A
# restart's reconnect storm (every EventSource sends its Last-Event-ID) is made of them.
resumes = BatchedReads(log.resume, name="notifier-resume-reads")


class NotificationFeed:
    __slots__ = ("subscription", "user_id", "last_seq", "_backlog", "_more_in_log")

    def __init__(self, subscription: Subscription, user_id: int, last_seq: int) -> None:
        self.subscription = subscription
        self.user_id = user_id
        self.last_seq = last_seq
        self._backlog: list[Published] | tuple[()] = ()  # (a live stream's is empty for good)
        self._more_in_log = False

    @classmethod
    async def open(
        cls, registry: SubscriberRegistry, user_id: int, last_event_id: int | None, dispatcher: Dispatcher | None = None
    ) -> NotificationFeed:
        """Subscribe, then (when resuming after `last_event_id`) load what was missed.

        `dispatcher`, the one delivering to `registry`, makes a fresh connect free of the
        database: it delivers every seq after the ones it has delivered, in order, to
        whoever is subscribed by then — so subscribing in the same step as reading that
        figure misses nothing.
        """
        if last_event_id is None:
            delivered = dispatcher.delivered_through if dispatcher is not None else None
            if delivered is not None:
                return cls(registry.subscribe(user_channel(user_id)), user_id, delivered)
            # A fresh connect means "from now on". "Now" is read before subscribing, and the
            # feed then resumes from it: an event committed while we subscribe is replayed,
            # not lost (read after subscribing, it would count as seen but never be sent).
            now = await asyncio.to_thread(log.last_seq)
            subscription = registry.subscribe(user_channel(user_id))
            try:
                feed = cls(subscription, user_id, now)
                await feed._load_backlog()
                return feed
            except BaseException:
                subscription.close()
                raise
        subscription = registry.subscribe(user_channel(user_id))
        try:
            feed = cls(subscription, user_id, last_event_id)
            await feed._resume(last_event_id)
            return feed
        except BaseException:
            subscription.close()
            raise

    async def _resume(self, last_event_id: int) -> None:
        found = await resumes.get((self.user_id, last_event_id))
        if last_event_id > found.last_seq:
            # The client is ahead of the log (the log was reset): start afresh from now.
            self._backlog = [Published.build(None, events.stream_reset(), self.user_id, None)]
            self.last_seq = found.last_seq
            return
        if last_event_id < found.pruned_through:
            self._backlog = [Published.build(None, events.stream_reset(), self.user_id, None)]
        self._add_backlog(found.missed)

    async def _load_backlog(self) -> None:
        self._add_backlog(await asyncio.to_thread(log.replay, self.user_id, self.last_seq))

    def _add_backlog(self, rows: list[Published]) -> None:
        if rows:
            self._backlog = [*self._backlog, *rows]
            self.last_seq = rows[-1].seq
        self._more_in_log = len(rows) >= log.REPLAY_LIMIT

    async def next_batch(self, timeout: float) -> list[Published] | None:
        """The next events in order; None if `timeout` passed quietly. Raises SubscriptionClosed."""
        while True:
            if not self._backlog and self._more_in_log:
                await self._load_backlog()
            if self._backlog:
                batch, self._backlog = self._backlog, ()
                return batch
            item: Published | None = await self.subscription.next_item(timeout)
            if item is None:
                return None
            batch = []
            for published in (item, *self.subscription.drain()):
                if published.seq > self.last_seq:  # already replayed otherwise
                    self.last_seq = published.seq
                    batch.append(published)
            if batch:
                return batch

    # The SSE stream's side (streams.py): `await` what `wait` returns, if anything, then
    # `take_frame`. In two halves so that an idle stream waits on the subscription's
    # future alone, with no coroutine of the feed's (bench/README.md).
    def wait(self, timeout: float) -> Awaitable[None] | None:
        """What to await before `take_frame`; None when it can be called now."""
        if self._backlog:
            return None
        if self._more_in_log:
            return asyncio.ensure_future(self._load_backlog())
        return self.subscription.wait(timeout)

    def take_frame(self) -> bytes | None:
        """What to send now: b"" for nothing (wait again), None when the wait timed out.
        Raises SubscriptionClosed at the end."""
        if self._backlog:
            batch, self._backlog = self._backlog, ()
            return b"".join(p.frame for p in batch)
        if self._more_in_log:
            return b""
        # (Right after a load that found nothing more, an empty take reads as a quiet
        # period: one keep-alive early, which is harmless.)
        # The hot path of every open stream (once per event per subscriber): no batch for
        # the usual single event.
        subscription = self.subscription
        item: Published | None = subscription.take()
        if item is None:
            return None
        if not subscription._items:
            if item.seq > self.last_seq:  # already replayed otherwise
                self.last_seq = item.seq
                return item.frame
            return b""
        frames = []
        for published in (item, *subscription.drain()):
            if published.seq > self.last_seq:
                self.last_seq = published.seq
                frames.append(published.frame)
        return b"".join(frames)

    @property
    def live(self) -> bool:
        """Nothing from the log is waiting to be sent first: a live item may go out at once."""
        return not self._backlog and not self._more_in_log

    def take_live(self, item: Published) -> bytes | None:
        """The frame to write for a live item now, or None if it was replayed already.
        Call `sent(item)` once it is written."""
        return item.frame if item.seq > self.last_seq else None

    def sent(self, item: Published) -> None:
        self.last_seq = item.seq

    def close(self) -> None:
        self.subscription.close()


class ChannelFeed:
    """Messages from one or more channels, after an optional history (deduplicated by id).

    Channel messages are published without a global order (two chat sends race from their
    threads to the loop), so a live message with a lower id than one already sent is still
    new: only the ids that the history itself replayed are skipped.
    """

    def __init__(self, subscription: Subscription, backlog: list | None = None) -> None:
        self.subscription = subscription
        self._backlog = list(backlog or [])
        self._replayed = frozenset(m.id for m in self._backlog if m.id is not None)

    async def next_batch(self, timeout: float | None) -> list | None:
        if self._backlog:
            batch, self._backlog = self._backlog, []
            return batch
        item = await self.subscription.next_item(timeout)
        if item is None:
            return None
        return [m for m in (item, *self.subscription.drain()) if m.id is None or m.id not in self._replayed]

    def wait(self, timeout: float) -> Awaitable[None] | None:
        return None if self._backlog else self.subscription.wait(timeout)

    def take_frame(self) -> bytes | None:
        if self._backlog:
            batch, self._backlog = self._backlog, []
        else:
            item = self.subscription.take()
            if item is None:
                return None
            batch = [m for m in (item, *self.subscription.drain()) if m.id is None or m.id not in self._replayed]
        return b"".join(m.frame for m in batch)

    def close(self) -> None:
        self.subscription.close()
