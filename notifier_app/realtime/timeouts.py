"""Timeouts for many waits on few loop timers: the idle streams' heartbeats.

Every open stream waits with a timeout (its heartbeat). A loop timer each cost ~240 bytes
per idle stream (the TimerHandle, its bound method) and a place in the loop's heap of
10,000. Here a wait's deadline is rounded *up* to the next multiple of `TICK` and the
waiter joins that tick's list; one loop timer per tick calls them all. A timeout so ends
up to `TICK` late, never early.

Nothing is taken out of a tick's list: a waiter that moved to another tick (or left) is
skipped when the old one falls due, by checking that it still points at that tick.
"""

from __future__ import annotations

import asyncio
import math
from typing import Protocol

TICK = 0.05  # seconds


class Waiter(Protocol):
    _tick: Tick | None

    def on_tick(self) -> None: ...


class Tick:
    __slots__ = ("loop", "number", "waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop, number: int) -> None:
        self.loop = loop
        self.number = number
        self.waiters: list[Waiter] = []

    def covers(self, loop: asyncio.AbstractEventLoop, deadline: float) -> bool:
        """Whether falling due calls its waiters in time for `deadline` on `loop`."""
        return self.loop is loop and self.number <= math.ceil(deadline / TICK)


class Ticks:
    """The pending ticks of one event loop (a new loop starts afresh)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[int, Tick] = {}

    def arm(self, waiter: Waiter, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """Call `waiter.on_tick()` at the first tick at or after `deadline` (loop time)."""
        if loop is not self._loop:
            self._loop, self._pending = loop, {}
        number = math.ceil(deadline / TICK)
        tick = self._pending.get(number)
        if tick is None:
            tick = self._pending[number] = Tick(loop, number)
            loop.call_at(number * TICK, self._fall_due, tick)
        tick.waiters.append(waiter)
        waiter._tick = tick

    def _fall_due(self, tick: Tick) -> None:
        if self._pending.get(tick.number) is tick:
            del self._pending[tick.number]
        for waiter in tick.waiters:
            if waiter._tick is tick:
                waiter._tick = None
                waiter.on_tick()
