"""Following channels from a page's state: the small loop every live page shares.

Like the notification stream, it runs as a background task at the end of the page's
on_load chain (so it ends with the tab), subscribes in process through the registry,
waits *outside* the state lock and applies each batch under it, briefly. What a batch
needs from the database is read before taking the lock, off the event loop, and read
once for every tab that needs it at the same time (batching.py): a comment on a post
that a thousand tabs show is one read, not a thousand on the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import reflex as rx

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
        apply: Callable[[Any], None],
        backlog: Callable[[], Awaitable[list[Message]]] | None = None,
        fetch: Callable[[list[Message] | None], Awaitable[Any]] | None = None,
    ) -> None:
        """Call `apply(batch)` for each batch, or `apply(None)` after a resubscription
        (messages may have been missed: reload). With `fetch`, `apply` gets what
        `await fetch(batch)` returned instead, read outside the state lock. `backlog`
        is what comes first after each subscription. Returns when a newer load
        supersedes it."""
        async with self:
            self._follow_generation += 1
            generation = self._follow_generation
        resync = False
        while True:
            subscription = registry.subscribe(*channels)  # before reading history: no gap
            try:
                feed = ChannelFeed(subscription, await backlog() if backlog else [])
                if resync and not await self._apply(generation, apply, fetch, None):
                    return
                while True:
                    # Outside the state lock, with no timeout: an idle page costs nothing
                    # (Reflex cancels this task with the page's load chain).
                    batch = await feed.next_batch(None)
                    if not await self._apply(generation, apply, fetch, batch or []):
                        return
            except SubscriptionClosed:
                logger.info("live page fell behind on %s; resubscribing", channels)
                resync = True
                await asyncio.sleep(1.0)
            finally:
                subscription.close()

    async def _apply(self, generation: int, apply, fetch, batch: list[Message] | None) -> bool:
        """Apply under the lock, briefly; False once a newer load superseded this loop."""
        news = batch is None or bool(batch)
        fetched = await fetch(batch) if fetch is not None and news else batch
        async with self:
            if self._follow_generation != generation:
                return False
            if news:
                apply(fetched)
        return True
