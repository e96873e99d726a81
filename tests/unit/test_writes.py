"""WriteCoalescer: live frames go out at once when idle, gathered while a fan-out is being written."""

from __future__ import annotations

import asyncio
import time

from notifier_app.realtime.registry import SubscriberRegistry, user_channel
from notifier_app.realtime.writes import WriteCoalescer
from tests.unit.conftest import run


def registry(bulk: int = 1) -> SubscriberRegistry:
    """A registry whose publishes count as bulk from `bulk` streams (the app's: 64)."""
    reg = SubscriberRegistry()
    reg.writes = WriteCoalescer(bulk=bulk)
    return reg


class Stream:
    """A subscriber whose server writes at call time, like EventStream under granian."""

    def __init__(self, registry: SubscriberRegistry, user_id: int, *, hand_over: float = 0.0) -> None:
        self.subscription = registry.subscribe(user_channel(user_id))
        self.subscription.sink = self.push
        self.writes = registry.writes
        self.hand_over = hand_over  # seconds one write takes to hand over (a busy server)
        self.written: list[bytes] = []
        self.flushed = asyncio.Event()

    def push(self, frame: bytes) -> bool:
        if self.writes.holds(self):
            self.writes.gather(self, frame)
        else:
            self.write(frame)
        return True

    def write(self, data: bytes) -> None:
        if self.hand_over:
            deadline = time.perf_counter() + self.hand_over
            while time.perf_counter() < deadline:  # the cost of handing bytes to a busy server
                pass
        self.written.append(data)

    def write_gathered(self, data: bytes) -> None:
        self.write(data)
        self.flushed.set()


async def wait_flushed(*streams: Stream) -> None:
    await asyncio.wait_for(asyncio.gather(*(s.flushed.wait() for s in streams)), timeout=5)


def test_an_idle_server_writes_at_once():
    async def main():
        reg = registry()
        a, b = Stream(reg, 1), Stream(reg, 2)
        reg.broadcast_users(b"one")
        assert a.written == [b"one"] and b.written == [b"one"]  # during the publish, not later
        assert reg.writes.pending == 0 and reg.writes.frames_gathered == 0

    run(main())


def test_publishes_during_a_fan_out_are_gathered_into_one_write_per_stream_in_order():
    async def main():
        reg = registry()
        streams = [Stream(reg, uid, hand_over=0.002) for uid in range(1, 6)]  # ~10 ms to hand over
        started = asyncio.get_running_loop().time()
        reg.broadcast_users(b"1")
        assert all(s.written == [b"1"] for s in streams)
        reg.broadcast_users(b"2")  # the first fan-out is still being written: gathered
        reg.notify_user(3, b"3")
        reg.broadcast_users(b"4", exclude_user=5)
        assert all(s.written == [b"1"] for s in streams), "gathered frames must not go out at once"
        assert reg.writes.pending == 5
        await wait_flushed(*streams)
        assert streams[2].written == [b"1", b"234"]  # one write, publish order
        assert streams[0].written == [b"1", b"24"]
        assert streams[4].written == [b"1", b"2"]
        assert reg.writes.frames_gathered == 10 and reg.writes.gathered_writes == 5
        waited = asyncio.get_running_loop().time() - started
        assert waited <= reg.writes.MAX_DELAY + 1, f"gathered frames waited {waited:.3f}s"

    run(main())


def test_a_frame_published_after_the_estimate_but_before_the_flush_keeps_its_place():
    async def main():
        reg = registry()
        stream = Stream(reg, 1, hand_over=0.002)
        reg.notify_user(1, b"a")
        reg.notify_user(1, b"b")  # gathered
        # Until the gathered frames are out, later ones may not overtake them, even once
        # the earlier writes should be done.
        reg.writes._busy_until = 0.0
        reg.notify_user(1, b"c")
        assert stream.written == [b"a"]
        await wait_flushed(stream)
        assert stream.written == [b"a", b"bc"]
        stream.flushed.clear()
        await asyncio.sleep(reg.writes.MAX_DELAY)  # (idle again: the estimate has passed)
        reg.notify_user(1, b"d")
        assert stream.written == [b"a", b"bc", b"d"]  # at once

    run(main())


def test_a_stream_that_ended_gets_nothing_of_what_was_gathered():
    async def main():
        reg = registry()
        gone, stays = Stream(reg, 1, hand_over=0.002), Stream(reg, 2, hand_over=0.002)
        reg.broadcast_users(b"1")
        reg.broadcast_users(b"2")
        reg.writes.discard(gone)
        gone.subscription.close()
        await wait_flushed(stays)
        assert gone.written == [b"1"] and stays.written == [b"1", b"2"]

    run(main())


def test_a_small_publish_during_a_fan_out_is_written_at_once_unless_frames_wait_for_its_stream():
    async def main():
        reg = registry(bulk=3)
        streams = [Stream(reg, uid, hand_over=0.002) for uid in range(1, 5)]
        reg.broadcast_users(b"1")  # bulk, idle server: written at once, and busy for a while
        reg.broadcast_users(b"2", exclude_user=4)  # bulk, busy: gathered for 1-3
        reg.notify_user(4, b"x")  # one stream, nothing gathered for it: at once
        reg.notify_user(2, b"y")  # one stream with a gathered frame: behind it
        assert streams[3].written == [b"1", b"x"]
        assert streams[1].written == [b"1"]
        await wait_flushed(*streams[:3])
        assert streams[1].written == [b"1", b"2y"]
        assert streams[0].written == streams[2].written == [b"1", b"2"]

    run(main())


def test_publishing_without_a_loop_or_a_sink_still_delivers():
    reg = SubscriberRegistry()
    sub = reg.subscribe(user_channel(1))
    assert reg.notify_user(1, "x") == 1
    assert reg.broadcast_users("y") == 1
    assert sub.drain() == ["x", "y"]
