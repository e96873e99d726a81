"""Fan-out through Redis pub/sub, for several workers or hosts (REFLEX_REDIS_URL set).

Publishing delivers locally first, then sends the notification once to Redis (encoded
once, whatever the number of subscribers). Every worker holds one Redis subscription and
hands what arrives to its `Dispatcher`, which drops what it delivered already and fills
sequence gaps from the log.

Redis outages: publishing keeps storing and delivering locally and logs the failure;
the listener reconnects with backoff and, while Redis is away, reads the log every
second so that subscribers on every worker still get every notification; on reconnect it
catches up from the log. Nothing is lost: the log is the source of truth, Redis only the
doorbell.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid

import redis.asyncio as redis
from redis.exceptions import RedisError

from notifier_app.realtime import log, sse
from notifier_app.realtime.broker import Dispatcher
from notifier_app.realtime.log import Published
from notifier_app.realtime.messages import Message

logger = logging.getLogger("notifier.broker")

CHANNEL = "notifier:notifications"
POLL_WHILE_DOWN_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 10.0


def encode(item: Published | Message, origin: str) -> str:
    if isinstance(item, Message):
        return sse.dumps({"origin": origin, "channel": list(item.channel), "id": item.id, "data": item.data})
    return sse.dumps(
        {"origin": origin, "seq": item.seq, "user": item.user_id, "exclude": item.exclude_user_id, "event": item.event}
    )


def decode(raw: str | bytes) -> tuple[str, Published | Message]:
    """(origin, item): who published it, and what."""
    data = json.loads(raw)
    origin = str(data.get("origin", ""))
    if "channel" in data:
        kind, key = data["channel"]
        return origin, Message.build((str(kind), str(key)), data["data"], data.get("id"))
    return origin, Published.build(int(data["seq"]), data["event"], data.get("user"), data.get("exclude"))


class RedisBroker:
    def __init__(self, dispatcher: Dispatcher, url: str) -> None:
        self.dispatcher = dispatcher
        self.url = url
        self._client: redis.Redis | None = None
        self._listener: asyncio.Task | None = None
        self.connected = False
        self.origin = uuid.uuid4().hex  # our own messages come back from Redis: skip them

    async def start(self) -> None:
        self._client = redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=None, health_check_interval=10)
        self.dispatcher.start(await asyncio.to_thread(log.last_seq))
        self._listener = asyncio.create_task(self._listen(), name="notifier-redis-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except (asyncio.CancelledError, Exception):
                pass
        if self._client is not None:
            await self._client.aclose()

    async def publish(self, published: Published) -> None:
        self.dispatcher.offer(published)
        await self._send(published)

    async def publish_message(self, message: Message) -> None:
        self.dispatcher.deliver_message(message)
        await self._send(message)

    async def _send(self, item: Published | Message) -> None:
        try:
            await self._client.publish(CHANNEL, encode(item, self.origin))
        except (RedisError, OSError) as exc:
            # Delivered here; notifications reach other workers from the log (see _listen).
            # A chat message is stored too (replayed on join); an entity update is ephemeral.
            logger.warning("redis publish failed (%s); other workers will catch up from the log", exc)

    async def _listen(self) -> None:
        attempt = 0
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                if attempt:
                    logger.info("redis: reconnected to %s", _redacted(self.url))
                self.connected = True
                attempt = 0
                await self.dispatcher.catch_up()  # what was published while we were not listening
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._receive(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.connected = False
                delay = min(BACKOFF_CAP_SECONDS, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)
                logger.warning("redis: connection lost (%s); retrying in %.1fs, reading the log meanwhile", exc, delay)
                attempt += 1
                await self._poll_log_for(delay)
            finally:
                self.connected = False
                try:
                    await pubsub.aclose()
                except Exception:  # noqa: BLE001  the connection is gone already
                    pass

    def _receive(self, data: str | bytes) -> None:
        try:
            origin, item = decode(data)
        except (ValueError, KeyError, TypeError):
            logger.warning("redis: ignored a malformed message on %s", CHANNEL)
            return
        if origin == self.origin:
            return  # delivered locally when it was published
        if isinstance(item, Message):
            self.dispatcher.deliver_message(item)
        else:
            self.dispatcher.offer(item)

    async def _poll_log_for(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            await asyncio.sleep(min(POLL_WHILE_DOWN_SECONDS, left))
            try:
                await self.dispatcher.catch_up()
            except Exception:
                logger.exception("reading the log during a redis outage failed")


def _redacted(url: str) -> str:
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
