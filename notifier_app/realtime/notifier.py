"""Where a notification is born into the system: stored in the log, then published."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlmodel import Session

from notifier_app import db
from notifier_app.background import LoopTasks
from notifier_app.realtime import log
from notifier_app.realtime.broker import Broker, Dispatcher, InProcessBroker
from notifier_app.realtime.log import Published
from notifier_app.realtime.messages import Message
from notifier_app.realtime.registry import SubscriberRegistry, reads_channel

logger = logging.getLogger("notifier")


class Notifier:
    def __init__(self, registry: SubscriberRegistry) -> None:
        self.registry = registry
        self.dispatcher = Dispatcher(registry)
        self.broker: Broker = InProcessBroker(self.dispatcher)
        self.started = time.monotonic()
        # One publish at a time per process, so that this process publishes in seq order.
        self._lock = asyncio.Lock()
        self._publishes = LoopTasks(logger)

    def start(self) -> None:
        """Publish what `store` stored on the running loop (the worker's)."""
        self._publishes.start()

    @property
    def events_published(self):
        """Notifications delivered to this process's subscribers, by type."""
        return self.dispatcher.delivered

    async def publish(
        self, event: dict[str, Any], *, user_id: int | None = None, exclude_user_id: int | None = None
    ) -> Published:
        """Persist, then publish. `user_id` None means everyone (but `exclude_user_id`)."""
        async with self._lock:
            published = await asyncio.to_thread(log.append, event, user_id=user_id, exclude_user_id=exclude_user_id)
            await self.broker.publish(published)
        return published

    def store(
        self, s: Session, event: dict[str, Any], *, user_id: int | None = None, exclude_user_id: int | None = None
    ) -> None:
        """Store in the caller's transaction; publish once it commits (from any thread).

        The write that caused the notification and the notification are committed
        together, and fan-out starts the moment they are: no second transaction, no wait
        for the loop to pick up the domain event first.
        """
        seq = log.stage(s, event, user_id=user_id, exclude_user_id=exclude_user_id)
        db.after_commit(s, lambda: self._publish_soon(Published.build(seq, event, user_id, exclude_user_id)))

    def _publish_soon(self, published: Published) -> None:
        # Not serving (a script, a seed): nothing to publish to; the log has it for replay.
        self._publishes.submit(self.broker.publish, published)

    async def drain(self) -> None:
        """Wait for publishes of notifications already committed (shutdown, tests)."""
        await self._publishes.drain()

    async def publish_message(self, message: Message) -> None:
        """Fan out a channel message (chat, entity update) to every process."""
        await self.broker.publish_message(message)

    async def reads_changed(self, user_id: int) -> None:
        """Tell the user's browser tabs, on every worker, that their read marks changed."""
        await self.broker.publish_message(Message.build(reads_channel(user_id), {"type": "notifications.read"}))
