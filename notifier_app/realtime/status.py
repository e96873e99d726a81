"""What this process is doing: connections per channel kind, events per second, history.

`snapshot()` must run on the event loop's thread; it costs next to nothing (the registry
keeps its counts as subscriptions come and go), so every request and status stream may
take one. The sampler keeps a few minutes of samples for the /system dashboard's chart.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from notifier_app.realtime import limits, notifier, registry

SAMPLE_EVERY_SECONDS = 2.0
HISTORY_SAMPLES = 150  # five minutes

_samples: deque[dict] = deque(maxlen=HISTORY_SAMPLES)


def _delivered_total() -> int:
    dispatcher = notifier.dispatcher
    return sum(dispatcher.delivered.values()) + sum(dispatcher.messages.values())


def _events_per_second() -> float:
    if len(_samples) < 2:
        return 0.0
    first, last = _samples[-2], _samples[-1]
    elapsed = last["t"] - first["t"]
    return round((last["delivered"] - first["delivered"]) / elapsed, 2) if elapsed > 0 else 0.0


def snapshot() -> dict:
    return {
        "connections": registry.total(),
        "connectionsByKind": registry.connection_counts(),
        "streams": limits.total,
        "users": registry.channel_count("user"),
        "eventsPublished": dict(notifier.dispatcher.delivered + notifier.dispatcher.messages),
        "eventsPerSecond": _events_per_second(),
        "droppedSubscribers": registry.dropped,
        # live frames that waited for an earlier fan-out to be written, and the writes they took
        "gatheredWrites": {"frames": registry.writes.frames_gathered, "writes": registry.writes.gathered_writes},
        "uptimeSeconds": round(time.monotonic() - notifier.started, 1),
        "tasks": _tasks(),
    }


_tasks_counted = [float("-inf"), 0]  # [when (monotonic), how many]


def _tasks() -> int:
    """The loop's tasks, counted at most once per sampling interval and only when someone
    asks: counting walks every task (~2 ms at 10,000 streams), a stall of every stream."""
    now = time.monotonic()
    if now - _tasks_counted[0] >= SAMPLE_EVERY_SECONDS:
        _tasks_counted[:] = [now, len(asyncio.all_tasks())]
    return _tasks_counted[1]


def history() -> list[dict]:
    """[{time (unix s), connections, eventsPerSecond}] for the last few minutes."""
    out = []
    previous = None
    for sample in _samples:
        rate = 0.0
        if previous is not None and sample["t"] > previous["t"]:
            rate = (sample["delivered"] - previous["delivered"]) / (sample["t"] - previous["t"])
        out.append({"time": sample["wall"], "connections": sample["connections"], "eventsPerSecond": round(rate, 2)})
        previous = sample
    return out


def take_sample() -> None:
    _samples.append(
        {
            "t": time.monotonic(),
            "wall": time.time(),
            "connections": registry.total(),
            "delivered": _delivered_total(),
        }
    )


async def sample_forever() -> None:
    while True:
        take_sample()
        await asyncio.sleep(SAMPLE_EVERY_SECONDS)
