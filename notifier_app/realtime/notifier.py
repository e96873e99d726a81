"""Where a notification is born into the system: stored in the log, then fanned out."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from notifier_app.realtime import log
from notifier_app.realtime.log import Published
from notifier_app.realtime.registry import SubscriberRegistry


class Notifier:
    def __init__(self, registry: SubscriberRegistry) -> None:
        self.registry = registry
        self.events_published: Counter[str] = Counter()
        self.started = time.monotonic()
        # One publish at a time per process, so that delivery order is sequence order.
        self._lock = asyncio.Lock()

    async def publish(
        self, event: dict[str, Any], *, user_id: int | None = None, exclude_user_id: int | None = None
    ) -> Published:
        """Persist, then deliver. `user_id` None means everyone (but `exclude_user_id`)."""
        async with self._lock:
            published = await asyncio.to_thread(log.append, event, user_id=user_id, exclude_user_id=exclude_user_id)
            self.deliver(published)
        return published

    def deliver(self, published: Published) -> int:
        self.events_published[published.event["type"]] += 1
        if published.user_id is not None:
            return self.registry.notify_user(published.user_id, published)
        return self.registry.broadcast_users(published, exclude_user=published.exclude_user_id)
