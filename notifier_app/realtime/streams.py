"""SSE responses: the per-connection loop shared by every stream endpoint.

A stream reads frames from a *feed* (`next_frame(timeout)`: bytes, or None when
`timeout` passed with nothing to send) and writes them, a keep-alive comment whenever
the feed is quiet for one heartbeat interval. A client that goes away is noticed at
once (the ASGI `http.disconnect` message) and its subscription freed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Protocol

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from notifier_app.realtime import sse
from notifier_app.realtime.registry import SubscriptionClosed


class Feed(Protocol):
    async def next_frame(self, timeout: float) -> bytes | None: ...

    def close(self) -> None: ...


class StreamLimits:
    """Open streams per user and in total; a refused stream never waits."""

    def __init__(self) -> None:
        self.per_user: Counter[str] = Counter()
        self.total = 0

    def refusal(self, user_key: str, *, per_user: int, total: int) -> str | None:
        """'server' or 'user' if a new stream would pass a cap, else None."""
        if self.total >= total:
            return "server"
        if self.per_user[user_key] >= per_user:
            return "user"
        return None

    def acquire(self, user_key: str) -> None:
        self.per_user[user_key] += 1
        self.total += 1

    def release(self, user_key: str) -> None:
        self.total -= 1
        left = self.per_user[user_key] - 1
        if left > 0:
            self.per_user[user_key] = left
        else:
            del self.per_user[user_key]


class EventStream(Response):
    """A `text/event-stream` response driven by a feed; releases its slot when it ends."""

    media_type = "text/event-stream"

    def __init__(
        self,
        feed: Feed,
        *,
        heartbeat: float,
        retry_ms: int,
        limits: StreamLimits,
        slot: str,
        expires_at: float | None = None,
        slot_held: bool = False,
    ) -> None:
        self.feed = feed
        self.heartbeat = heartbeat
        self.retry_ms = retry_ms
        self.limits = limits
        self.slot = slot
        self.expires_at = expires_at
        self.status_code = 200
        self.background = None
        if not slot_held:  # True when the caller acquired it already (and it is ours to release)
            limits.acquire(slot)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = asyncio.ensure_future(self._watch_disconnect(receive))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": sse.HEADERS})
            await send({"type": "http.response.body", "body": sse.retry(self.retry_ms), "more_body": True})
            while True:
                try:
                    chunk = await self.feed.next_frame(self.heartbeat)
                except SubscriptionClosed:
                    break
                if chunk is None:
                    if self.expires_at is not None and time.time() >= self.expires_at:
                        break  # the token expired: the client must authenticate again
                    chunk = sse.KEEP_ALIVE
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (OSError, RuntimeError):
            pass  # the client went away mid-write
        except Exception as exc:  # noqa: BLE001  servers raise their own "client disconnected" types
            if "disconnect" not in type(exc).__name__.lower() and "closed" not in str(exc).lower():
                raise
        finally:
            watcher.cancel()
            self.feed.close()
            self.limits.release(self.slot)
        try:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except Exception:  # noqa: BLE001
            pass

    async def _watch_disconnect(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.feed.close()
                return
