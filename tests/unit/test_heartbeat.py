"""Keep-alives after a broadcast are spread out, not written by every stream at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from notifier_app.realtime import sse
from notifier_app.realtime.feeds import ChannelFeed
from notifier_app.realtime.registry import SubscriberRegistry
from notifier_app.realtime.streams import HEARTBEAT_SPREAD, EventStream, StreamLimits
from notifier_app.realtime.timeouts import TICK
from tests.unit.conftest import run

HEARTBEAT = 0.4
STREAMS = 200


@dataclass
class Message:
    id: int
    frame: bytes


def test_streams_a_broadcast_reached_write_their_keep_alives_spread_over_the_heartbeat():
    registry = SubscriberRegistry()
    limits = StreamLimits()
    keep_alives: list[float] = []

    async def main():
        loop = asyncio.get_running_loop()
        published = loop.create_future()
        stop = asyncio.Event()

        async def receive() -> dict:
            await stop.wait()
            return {"type": "http.disconnect"}

        def sender():
            async def send(message: dict) -> None:
                if message.get("body") == sse.KEEP_ALIVE and published.done():
                    keep_alives.append(loop.time() - published.result())
            return send

        streams = [
            EventStream(ChannelFeed(registry.subscribe(("room", "r"))), heartbeat=HEARTBEAT, retry_ms=5000,
                        limits=limits, slot=str(n))
            for n in range(STREAMS)
        ]
        tasks = [asyncio.ensure_future(s.stream(receive, sender(), headers_sent=False)) for s in streams]
        await asyncio.sleep(0.05)  # every stream waiting
        registry.publish(("room", "r"), Message(1, b"data: {}\n\n"))
        published.set_result(loop.time())
        while len(keep_alives) < STREAMS:  # (the overall timeout in run() bounds this)
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.gather(*tasks)

    run(main())
    first = keep_alives[:STREAMS]
    assert min(first) >= HEARTBEAT * (1 - HEARTBEAT_SPREAD), f"a keep-alive too early: {min(first):.3f}s"
    assert max(first) <= HEARTBEAT + 2 * TICK + 0.1, f"a keep-alive too late: {max(first):.3f}s"
    spread = max(first) - min(first)
    # (Without the spread they fall due together: within a few ms, the time it takes to write them.)
    assert spread >= HEARTBEAT / 10, f"all {STREAMS} keep-alives within {spread * 1000:.0f} ms"
