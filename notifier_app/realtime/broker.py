"""Brokers: how a stored notification reaches the subscribers of every worker.

Pluggable like an httpx transport. `InProcessBroker` (the default: one process, no Redis)
hands it straight to this process's `Dispatcher`. `RedisBroker` (when REFLEX_REDIS_URL is
set; see redis_broker.py) also sends it once through Redis pub/sub, and every worker's
dispatcher delivers it to that worker's own subscribers.

The `Dispatcher` makes delivery exactly-once and in sequence order whatever the transport
does: duplicates (a worker's own message coming back from Redis) are dropped, and a gap
in the sequence (a lost or late Redis message, a Redis outage) is filled from the
notification log, which every notification reaches before it is published.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Protocol

from notifier_app.realtime import log
from notifier_app.realtime.log import Published
from notifier_app.realtime.messages import Message
from notifier_app.realtime.registry import SubscriberRegistry

logger = logging.getLogger("notifier.broker")

MESSAGE_TYPES = {"room": "chat.message", "entity": "entity.update"}

# How long a later notification waits for an earlier one before the gap is read from the log.
GAP_HOLD_SECONDS = 0.25


class Dispatcher:
    """Delivers notifications to this process's registry, once each, in seq order."""

    def __init__(self, registry: SubscriberRegistry) -> None:
        self.registry = registry
        self.delivered: Counter[str] = Counter()  # notifications, by event type
        self.messages: Counter[str] = Counter()  # channel messages, by event type
        self.next_seq: int | None = None  # None until start(): then everything after the log's end
        self._pending: dict[int, Published] = {}
        self._gap_task: asyncio.Task | None = None
        self.gaps_filled = 0

    def start(self, last_seq: int) -> None:
        self.next_seq = last_seq + 1

    @property
    def delivered_through(self) -> int | None:
        """Every seq up to this one has been delivered (or skipped); None before start()."""
        return None if self.next_seq is None else self.next_seq - 1

    def offer(self, published: Published) -> None:
        if self.next_seq is None:
            self.next_seq = published.seq
        if published.seq < self.next_seq or published.seq in self._pending:
            return  # delivered already
        self._pending[published.seq] = published
        self._flush()
        if self._pending and (self._gap_task is None or self._gap_task.done()):
            self._gap_task = asyncio.ensure_future(self._fill_gap())

    def _flush(self) -> None:
        while (published := self._pending.pop(self.next_seq, None)) is not None:
            self.next_seq += 1
            self._deliver(published)

    def deliver_message(self, message: Message) -> None:
        """Channel messages (chat, entity updates) need no ordering across publishers."""
        self.messages[MESSAGE_TYPES.get(message.channel[0], message.channel[0])] += 1
        self.registry.publish(message.channel, message)

    def _deliver(self, published: Published) -> None:
        self.delivered[published.event["type"]] += 1
        if published.user_id is not None:
            self.registry.notify_user(published.user_id, published)
        else:
            self.registry.broadcast_users(published, exclude_user=published.exclude_user_id)

    async def _fill_gap(self) -> None:
        await asyncio.sleep(GAP_HOLD_SECONDS)
        if not self._pending:
            return
        upto = max(self._pending)
        try:
            rows = await asyncio.to_thread(log.since, self.next_seq - 1, upto)
        except Exception:
            logger.exception("could not read the log to fill a gap before seq %s", upto)
            rows = []
        for row in rows:
            if row.seq >= self.next_seq:
                self._pending.setdefault(row.seq, row)
        self._flush()
        if self._pending:
            # Still missing: a sequence number that was never committed (a rolled-back insert).
            missing = min(self._pending) - self.next_seq
            logger.warning("skipping %d sequence number(s) absent from the log before seq %s", missing, min(self._pending))
            self.next_seq = min(self._pending)
            self._flush()
        self.gaps_filled += 1

    async def catch_up(self) -> int:
        """Deliver whatever the log has beyond what was delivered (after an outage)."""
        total = 0
        while self.next_seq is not None:
            rows = await asyncio.to_thread(log.since, self.next_seq - 1, None)
            for row in rows:
                self.offer(row)
            total += len(rows)
            if len(rows) < log.REPLAY_LIMIT:
                break
        return total


class Broker(Protocol):
    dispatcher: Dispatcher

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, published: Published) -> None:
        """Deliver a stored notification to subscribers in every process."""
        ...

    async def publish_message(self, message: Message) -> None:
        """Deliver a channel message to subscribers in every process."""
        ...


class InProcessBroker:
    """One process: publishing is delivering."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    async def start(self) -> None:
        self.dispatcher.start(await asyncio.to_thread(log.last_seq))

    async def stop(self) -> None:
        return None

    async def publish(self, published: Published) -> None:
        self.dispatcher.offer(published)

    async def publish_message(self, message: Message) -> None:
        self.dispatcher.deliver_message(message)
