"""Live writes gathered while the server is still writing out an earlier fan-out.

granian's `send` only queues bytes: its I/O thread does the socket writes after our loop
has handed them over. A broadcast to 10,000 streams is handed over in ~45 ms here and
written for ~130 ms (perf: ~13 µs a socket, most of it the kernel's loopback TCP — three
times the hand-over). A frame published meanwhile would queue behind those writes anyway.
So it is kept here instead, with whatever else arrives for the same stream, and written
once the earlier fan-out should be out: one write per stream, not one per event. An idle
server writes at once; only back-to-back publishes are gathered, never for more than
`MAX_DELAY`. A small publish (one user's notification) is written at once even then —
gathering it would save a write or two and cost its reader up to `MAX_DELAY` — except to
a stream that has frames gathered already, which go first. Figures: bench/README.md.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class GatheredWriter(Protocol):
    def write_gathered(self, data: bytes) -> None:
        """Write frames gathered for this stream, in order (one or more, concatenated)."""


class WriteCoalescer:
    """Decides, per publish, whether live frames are written at once or gathered.

    The registry calls `begin` and `end` around each publish; a stream's sink asks
    `holds(itself)` and either writes the frame itself or hands it to `gather`.
    """

    # The server's I/O thread spends about this many times our hand-over time writing a
    # fan-out out (13 vs 4.5 µs per socket in a burst to 10,000 streams, bench machine).
    WRITE_FACTOR = 3.0
    MAX_DELAY = 0.25  # seconds a gathered frame may wait, whatever the estimate
    BULK = 64  # a publish to fewer streams than this is not gathered (see the module doc)

    __slots__ = (
        "gathering", "now", "frames_gathered", "gathered_writes", "bulk",
        "_loop", "_timed", "_busy_until", "_pending", "_flush",
    )

    def __init__(self, bulk: int = BULK) -> None:
        self.bulk = bulk
        self.gathering = False  # the current publish is gathered (every frame of it)
        self.now = 0.0  # the loop's time when the current publish began
        self.frames_gathered = 0  # frames that waited here ...
        self.gathered_writes = 0  # ... and the writes they went out in
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timed = False  # the current publish runs on `_loop` (and is timed)
        self._busy_until = 0.0  # loop time at which earlier writes should be out
        self._pending: dict[GatheredWriter, list[bytes]] = {}
        self._flush: asyncio.TimerHandle | None = None

    def begin(self, size: int) -> None:
        """A publish to `size` streams begins."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # published from outside a loop: no stream writes then
            self.gathering = self._timed = False
            return
        if loop is not self._loop:  # the first publish, or a test's new loop: start afresh
            self._loop, self._busy_until, self._pending, self._flush = loop, 0.0, {}, None
        self._timed = True
        now = self.now = loop.time()
        # Anything still gathered keeps later bulk frames gathered too, so that it is
        # written in one go (and a small publish waits only where `holds` says).
        self.gathering = size >= self.bulk and (bool(self._pending) or now < self._busy_until)

    def holds(self, writer: GatheredWriter) -> bool:
        """Whether this publish's frame for `writer` must be gathered: the publish is,
        or frames gathered earlier for that stream have to go out first."""
        return self.gathering or writer in self._pending

    def end(self) -> None:
        if self._timed and not self.gathering:
            self._settle(self.now)
        self.gathering = False

    def gather(self, writer: GatheredWriter, frame: bytes) -> None:
        """Keep a frame for a writer (only where `holds`, inside a publish)."""
        self.frames_gathered += 1
        frames = self._pending.get(writer)
        if frames is None:
            self._pending[writer] = [frame]
        else:
            frames.append(frame)
        if self._flush is None:
            delay = min(max(self._busy_until - self._loop.time(), 0.0), self.MAX_DELAY)
            self._flush = self._loop.call_later(delay, self._write_gathered)

    def discard(self, writer: GatheredWriter) -> None:
        """Forget what was gathered for a stream that ended."""
        self._pending.pop(writer, None)

    def _write_gathered(self) -> None:
        self._flush = None
        pending, self._pending = self._pending, {}
        started = self._loop.time()
        self.gathered_writes += len(pending)
        for writer, frames in pending.items():
            writer.write_gathered(frames[0] if len(frames) == 1 else b"".join(frames))
        self._settle(started)

    def _settle(self, started: float) -> None:
        """Writes were handed over from `started` until now: estimate when they are out."""
        now = self._loop.time()
        busy_until = started + self.WRITE_FACTOR * (now - started)
        if busy_until > self._busy_until:
            self._busy_until = min(busy_until, now + self.MAX_DELAY)

    @property
    def pending(self) -> int:
        """Streams with gathered frames not yet written."""
        return len(self._pending)
