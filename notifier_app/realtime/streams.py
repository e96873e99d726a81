"""SSE responses: the per-connection loop shared by every stream endpoint.

A stream reads frames from a *feed* (awaits `wait(timeout)` when it returns something,
then `take_frame()`: bytes, or None when `timeout` passed with nothing to send) and writes
them, a keep-alive comment whenever the feed is quiet for one heartbeat interval. A
client that goes away is noticed at once (the ASGI `http.disconnect` message) and its
subscription freed.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable
from typing import Protocol

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from notifier_app.config import SERVER_ACCESS_LOG
from notifier_app.realtime import sse
from notifier_app.realtime.registry import SubscriptionClosed


class Feed(Protocol):
    def wait(self, timeout: float) -> Awaitable[None] | None: ...

    def take_frame(self) -> bytes | None: ...  # b"": nothing to send; raises SubscriptionClosed

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


# Writes a stream keeps while granian has not taken an earlier one (EventStream._write).
MAX_QUEUED = 256

# A keep-alive goes out between (1 - HEARTBEAT_SPREAD) and 1 heartbeat after the stream's
# last write: each stream draws its own quiet period once, at random. Without the spread,
# every stream a broadcast reached fell due at the same moment one heartbeat later, and
# again every heartbeat after that: 10,000
# streams writing their keep-alives at once held up everything else on the server, a
# /ping for 170-280 ms (bench/README.md).
HEARTBEAT_SPREAD = 0.25

# The key under which `StreamHandoff` offers a stream a way out of the middleware chain.
HANDOFF = "notifier.stream_handoff"


class StreamHandoff:
    """The outermost ASGI layer: lets an open stream leave the framework's middleware chain.

    A stream is a request that lasts for hours. Run inside the usual chain (Reflex's
    Starlette app, its middlewares, the mounted FastAPI app, its middlewares, the router,
    the route), every open stream kept ~34 suspended coroutines, three Request objects and
    three AsyncExitStacks alive — 137 objects and 23 KB of Python heap per stream, 1.4 M
    objects at 10,000 streams for every full garbage collection to walk — and every frame
    it wrote passed through five `send` wrappers. Handed off: ~37 objects and ~7 KB per
    stream (bench/README.md has the before/after figures).

    So the chain does what it is good at — routing, authentication, caps, CORS, error
    pages — up to and including the response headers, and then an `EventStream` hands
    itself to this layer and returns: the chain unwinds and is freed, and the stream runs
    here, on the server's own `receive` and `send`. The bytes on the wire are the same.
    (For the stream endpoints' own paths `HotPaths`, inside this layer, stands in for
    the chain: api/hot_paths.py.)
    Installed by the app's lifespan (notifier_app/lifespan.py); without it (an ASGI test
    client, another mounting) streams simply run inside the chain as before.
    """

    __slots__ = ("app",)

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        handoff: list[EventStream] = []
        # The chain gets its own copy of the scope: what it puts there (FastAPI's exit
        # stacks, the route, the app) is freed with it, while the server keeps the original.
        inner = {**scope, HANDOFF: handoff}
        try:
            await self.app(inner, receive, send)
        except BaseException:
            for stream in handoff:
                stream.abandon()
            raise
        if handoff:
            stream = handoff.pop()
            del inner, handoff
            _slim(scope)
            await stream.stream(receive, send, headers_sent=True)


# What granian's access log reads from a finished request's scope; the rest of the scope
# (the request headers above all) the server would keep for as long as the stream lasts.
_SCOPE_KEPT = frozenset({"type", "http_version", "scheme", "method", "path", "query_string", "client"})


def _slim(scope: Scope) -> None:
    """Drop what a handed-off stream no longer needs from the server's scope (the server
    keeps the dict until the stream ends): all of it when the server is ours with its
    access log off (serving.py says so), else all but what its access log reads. Headers,
    a copy of the lifespan state and the like: ~1.4 KB per held stream; the access log's
    entries ~0.8 KB more (bench/README.md)."""
    if os.environ.get(SERVER_ACCESS_LOG) == "0":
        scope.clear()
        return
    kept = {key: value for key, value in scope.items() if key in _SCOPE_KEPT}
    scope.clear()  # (deleting keys would leave the dict its full size)
    scope.update(kept, headers=())  # (the shared empty tuple: a list would be 56 bytes more)


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
        # How long after a write its next keep-alive is due: drawn once (HEARTBEAT_SPREAD).
        self.quiet_period = heartbeat * (1.0 - HEARTBEAT_SPREAD * random.random())
        self.retry_ms = retry_ms
        self.limits = limits
        self.slot = slot
        self.expires_at = expires_at
        self.status_code = 200
        self.background = None
        self._released = False
        self._send: Send | None = None  # set when live items are written by the publisher (_push)
        self._blocked: asyncio.Future | None = None  # a write granian has not taken yet (see _write)
        self._queued: list[bytes] | tuple[()] = ()  # writes waiting behind it, in order
        if not slot_held:  # True when the caller acquired it already (and it is ours to release)
            limits.acquire(slot)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handoff = scope.get(HANDOFF)
        if type(handoff) is list and not handoff:
            # Headers through the middlewares (CORS and the rest see the response start),
            # then out of the chain: StreamHandoff runs the rest on the server's send.
            try:
                await send({"type": "http.response.start", "status": 200, "headers": sse.HEADERS})
            except BaseException as exc:
                self.abandon()
                if _client_gone(exc):
                    return
                raise
            handoff.append(self)
            return
        await self.stream(receive, send, headers_sent=False)

    def abandon(self) -> None:
        """Free what the stream holds without running it."""
        self.feed.close()
        self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self.limits.release(self.slot)

    async def stream(self, receive: Receive, send: Send, *, headers_sent: bool) -> None:
        self._receive = receive
        self._watch_disconnect()
        try:
            if not headers_sent:
                await send({"type": "http.response.start", "status": 200, "headers": sse.HEADERS})
            await send({"type": "http.response.body", "body": sse.retry(self.retry_ms), "more_body": True})
            if _writes_at_call(send) and hasattr(self.feed, "take_live"):
                self._send = send
                self._writes = self.feed.subscription.writes
                self.feed.subscription.sink = self._push
            feed = self.feed
            while True:
                ready = feed.wait(self.quiet_period)
                if ready is not None:
                    await ready
                try:
                    chunk = feed.take_frame()
                except SubscriptionClosed:
                    break
                if chunk == b"":
                    continue  # nothing new after all (replayed already)
                if chunk is None:
                    if self.expires_at is not None and time.time() >= self.expires_at:
                        break  # the token expired: the client must authenticate again
                    chunk = sse.KEEP_ALIVE
                while self._blocked is not None:  # earlier writes from the publisher's side go first
                    await self._blocked
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except Exception as exc:
            if not _client_gone(exc):
                raise
        finally:
            if self._send is not None:
                self._send = None
                self.feed.subscription.sink = None  # and no cycle left behind
                self._writes.discard(self)
                self._queued = ()
            receiving = self._receiving
            receiving.remove_done_callback(self._watch_disconnect)  # no cycle left behind
            receiving.cancel()
            self.feed.close()
            self._release()
        try:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except Exception:  # noqa: BLE001
            pass

    def _push(self, item) -> bool:
        """The subscription's sink: write a live item now, from the publisher's loop.

        Only while the feed has nothing older to send first (otherwise the item is
        buffered and this stream's own loop sends it in order). A write that fails hands
        the item back to that loop, which meets the error and ends the stream. While the
        server is still writing an earlier fan-out, the frame is gathered instead and
        written with the ones after it (writes.py).
        """
        feed = self.feed
        if not feed.live:
            return False
        frame = feed.take_live(item)
        if frame is not None:
            writes = self._writes
            if writes.holds(self):
                writes.gather(self, frame)
            else:
                try:
                    self._write(frame)
                except Exception:  # noqa: BLE001
                    feed.subscription.sink = None
                    return False
            feed.sent(item)
            # the next keep-alive is due about a heartbeat after this write
            feed.subscription.postpone(self.quiet_period, writes.now)
        return True

    def write_gathered(self, data: bytes) -> None:
        if self._send is None:
            return  # the stream ended meanwhile
        try:
            self._write(data)
        except Exception:  # noqa: BLE001
            self.feed.close()  # the client is gone: the stream's loop ends it

    def _write(self, data: bytes) -> None:
        """Write from a callback (the publisher's sink, a gathered flush), in order.

        granian's `send` queues the bytes at call time while the connection takes them;
        when it does not (the client reads slowly), it returns a pending awaitable and the
        bytes go out when that completes — after any later `send` that found room. So
        while a write is pending, later ones wait here (and the stream's own loop waits
        too); a client that lets `MAX_QUEUED` pile up is dropped, and replays on reconnect.
        """
        if self._blocked is not None:
            if self._queued:
                self._queued.append(data)
            else:
                self._queued = [data]
            if len(self._queued) > MAX_QUEUED:
                self.feed.close()
            return
        result = self._send({"type": "http.response.body", "body": data, "more_body": True})
        done = getattr(result, "done", None)
        if done is not None and not done():
            self._blocked = asyncio.ensure_future(_completion(result))
            self._blocked.add_done_callback(self._unblocked)

    def _unblocked(self, write: asyncio.Future) -> None:
        self._blocked = None
        if write.cancelled() or write.exception() is not None:
            self.feed.close()  # the client is gone: the stream's loop ends it
            return
        if self._queued and self._send is not None:
            queued, self._queued = self._queued, ()
            try:
                self._write(b"".join(queued))
            except Exception:  # noqa: BLE001
                self.feed.close()

    def _watch_disconnect(self, _done: asyncio.Future | None = None) -> None:
        """Wait for `http.disconnect` with callbacks, not a task per stream: granian's
        `receive()` returns a future already (another server's coroutine becomes a task)."""
        if _done is not None:
            if _done.cancelled() or _done.exception() is not None:
                return
            if _done.result()["type"] == "http.disconnect":
                self.feed.close()
                return
        self._receiving = asyncio.ensure_future(self._receive())
        self._receiving.add_done_callback(self._watch_disconnect)


async def _completion(awaitable) -> None:
    """An asyncio task for one of granian's awaitables (done(), exception(), callbacks)."""
    await awaitable


def _writes_at_call(send: Send) -> bool:
    """granian's ASGI `send` queues the bytes when it is called and returns an awaitable
    that is already done (checked against granian 2.x: unawaited sends arrive, in call
    order). Such a send can be called from the publisher's loop; any other (a middleware
    wrapper, uvicorn's coroutine) must be awaited by the stream's own task."""
    return type(getattr(send, "__self__", None)).__module__.startswith("granian")


def _client_gone(exc: BaseException) -> bool:
    """The client went away mid-write (servers raise their own "client disconnected" types)."""
    if isinstance(exc, (OSError, RuntimeError)):
        return True
    return isinstance(exc, Exception) and (
        "disconnect" in type(exc).__name__.lower() or "closed" in str(exc).lower()
    )
