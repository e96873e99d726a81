"""EventStream._write: a stream's writes stay in order when the server holds one back.

granian's `send` takes the bytes at call time, or, when the connection has no room,
returns a pending awaitable and sends them once it completes. `Server` below does the
same; tests/api/test_capacity.py checks the real thing under load.
"""

from __future__ import annotations

import asyncio

from notifier_app.realtime.streams import MAX_QUEUED, EventStream, StreamLimits
from tests.unit.conftest import run


class Done:
    def done(self) -> bool:
        return True


class Server:
    def __init__(self) -> None:
        self.wire: list[bytes] = []
        self.room = True
        self.held: list[tuple[asyncio.Future, bytes]] = []

    def send(self, message: dict):
        if self.room:
            self.wire.append(message["body"])
            return Done()
        fut = asyncio.get_running_loop().create_future()
        self.held.append((fut, message["body"]))
        return fut

    def release(self) -> None:
        self.room = True
        for fut, body in self.held:
            self.wire.append(body)
            fut.set_result(None)
        self.held = []


class Feed:
    closed = False

    def close(self) -> None:
        self.closed = True


def stream_on(server: Server) -> EventStream:
    stream = EventStream(Feed(), heartbeat=15, retry_ms=5000, limits=StreamLimits(), slot="1")
    stream._send = server.send
    return stream


def test_writes_behind_a_held_back_one_wait_for_it():
    async def main():
        server = Server()
        stream = stream_on(server)
        stream._write(b"1")
        server.room = False
        stream._write(b"2")  # held back by the server
        server.room = True  # room again: a careless writer's next send would overtake "2"
        stream._write(b"3")
        stream._write(b"4")
        assert server.wire == [b"1"]
        blocked = stream._blocked
        server.release()
        await asyncio.wait_for(blocked, 5)  # its own callback, which writes what waited, ran first
        assert server.wire == [b"1", b"2", b"34"]
        assert stream._blocked is None and not stream._queued

    run(main())


def test_a_client_that_lets_writes_pile_up_is_dropped():
    async def main():
        server = Server()
        stream = stream_on(server)
        server.room = False
        stream._write(b"held")
        for _ in range(MAX_QUEUED):
            stream._write(b"x")
        assert not stream.feed.closed
        stream._write(b"one too many")
        assert stream.feed.closed  # the stream ends; the client replays on reconnect

    run(main())
