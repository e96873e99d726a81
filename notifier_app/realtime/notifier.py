"""Where a notification is born into the system: stored in the log, then published."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from notifier_app.realtime import log
from notifier_app.realtime.broker import Broker, Dispatcher, InProcessBroker
from notifier_app.realtime.log import Published
from notifier_app.realtime.messages import Message
from notifier_app.realtime.registry import SubscriberRegistry


class Notifier:
    def __init__(self, registry: SubscriberRegistry) -> None:
        self.registry = registry
        self.dispatcher = Dispatcher(registry)
        self.broker: Broker = InProcessBroker(self.dispatcher)
        self.started = time.monotonic()
        # One publish at a time per process, so that this process publishes in seq order.
        self._lock = asyncio.Lock()

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

    async def publish_message(self, message: Message) -> None:
        """Fan out a channel message (chat, entity update) to every process."""
        await self.broker.publish_message(message)
