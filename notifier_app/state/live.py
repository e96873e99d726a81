"""Following channels from a page's state: the small loop every live page shares.

Like the notification stream, it runs as a background task at the end of the page's
on_load chain (so it ends with the tab), subscribes in process through the registry,
waits *outside* the state lock and applies each batch under it, briefly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import reflex as rx

from notifier_app.config import settings
from notifier_app.realtime import registry
from notifier_app.realtime.feeds import ChannelFeed
from notifier_app.realtime.messages import Message
from notifier_app.realtime.registry import Channel, SubscriptionClosed

logger = logging.getLogger("notifier.browser")


class LiveState(rx.State):
    """Base for page states that follow channels; a newer load stops an older loop."""

    _follow_generation: int = 0

    async def follow(
        self,
        channels: list[Channel],
        apply: Callable[[list[Message] | None], None],
        backlog: Callable[[], list[Message]] | None = None,
    ) -> None:
        """Call `apply(batch)` for each batch, or `apply(None)` after a resubscription
        (messages may have been missed: reload). Returns when a newer load supersedes it."""
        async with self:
            self._follow_generation += 1
            generation = self._follow_generation
        heartbeat = settings().heartbeat_seconds
        resync = False
        while True:
            subscription = registry.subscribe(*channels)  # before reading history: no gap
            try:
                feed = ChannelFeed(subscription, await asyncio.to_thread(backlog) if backlog else [])
                if resync and not await self._apply(generation, apply, None):
                    return
                while True:
                    batch = await feed.next_batch(heartbeat)  # outside the state lock
                    if not await self._apply(generation, apply, batch or []):
                        return
            except SubscriptionClosed:
                logger.info("live page fell behind on %s; resubscribing", channels)
                resync = True
                await asyncio.sleep(1.0)
            finally:
                subscription.close()

    async def _apply(self, generation: int, apply, batch: list[Message] | None) -> bool:
        """Apply under the lock, briefly; False once a newer load superseded this loop."""
        async with self:
            if self._follow_generation != generation:
                return False
            if batch is None or batch:
                apply(batch)
        return True
