"""The in-process event bus."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading

from notifier_app.bus import EventBus
from tests.unit.conftest import run


@dataclasses.dataclass(frozen=True)
class Happened:
    n: int


@dataclasses.dataclass(frozen=True)
class Other:
    n: int


def test_emit_from_another_thread_runs_the_handler_on_the_started_loop():
    bus = EventBus()
    seen = []

    async def main():
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        async def handler(event):
            seen.append((event, asyncio.get_running_loop(), threading.get_ident()))
            done.set()

        bus.subscribe(Happened, handler)
        bus.start()
        emitter = {}

        def emit_elsewhere():
            emitter["thread"] = threading.get_ident()
            bus.emit(Happened(1))

        await asyncio.to_thread(emit_elsewhere)
        await done.wait()
        return loop, threading.get_ident(), emitter["thread"]

    loop, loop_thread, emitter_thread = run(main())
    assert emitter_thread != loop_thread
    assert seen == [(Happened(1), loop, loop_thread)]


def test_drain_waits_for_the_handlers_of_events_just_emitted():
    bus = EventBus()
    order = []

    async def slow(event):
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        order.append(("slow", event.n))

    async def chained(event):
        order.append(("chained", event.n))
        if event.n < 3:
            bus.emit(Happened(event.n + 1))  # a handler emitting further events

    bus.subscribe(Happened, slow)
    bus.subscribe(Happened, chained)

    async def main():
        bus.start()
        bus.emit(Happened(1))
        await bus.drain()
        return list(order)

    got = run(main())
    assert sorted(got) == [("chained", 1), ("chained", 2), ("chained", 3), ("slow", 1), ("slow", 2), ("slow", 3)]
    assert bus.pending == 0


def test_a_failing_handler_is_logged_and_does_not_stop_the_others(caplog):
    bus = EventBus()
    got = []

    async def broken(event):
        raise RuntimeError("handler blew up")

    async def fine(event):
        got.append(event)

    bus.subscribe(Happened, broken)
    bus.subscribe(Happened, fine)

    async def main():
        bus.start()
        bus.emit(Happened(1))
        bus.emit(Happened(2))
        await bus.drain()

    with caplog.at_level(logging.ERROR, logger="notifier_app.bus"):
        run(main())

    assert got == [Happened(1), Happened(2)]
    failures = [r for r in caplog.records if r.name == "notifier_app.bus" and r.levelno == logging.ERROR]
    assert len(failures) == 2
    assert all(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in failures)
    assert "broken" in failures[0].getMessage()


def test_emit_with_no_handlers_is_a_no_op(caplog):
    bus = EventBus()  # not even started
    with caplog.at_level(logging.DEBUG, logger="notifier_app.bus"):
        bus.emit(Happened(1))
    assert caplog.records == []

    async def main():
        bus.start()
        bus.emit(Happened(2))
        await bus.drain()
        return bus.pending

    assert run(main()) == 0


def test_handlers_are_chosen_by_the_exact_event_type():
    bus = EventBus()
    got = []

    async def on_happened(event):
        got.append(event)

    bus.subscribe(Happened, on_happened)

    async def main():
        bus.start()
        bus.emit(Other(1))
        bus.emit(Happened(2))
        await bus.drain()

    run(main())
    assert got == [Happened(2)]


def test_emit_before_start_is_dropped_with_a_warning(caplog):
    bus = EventBus()
    got = []

    async def handler(event):
        got.append(event)

    bus.subscribe(Happened, handler)
    with caplog.at_level(logging.WARNING, logger="notifier_app.bus"):
        bus.emit(Happened(1))
    assert got == []
    assert any("not started" in r.getMessage() for r in caplog.records)


def test_emit_after_the_loop_closed_is_dropped(caplog):
    bus = EventBus()

    async def handler(event):
        raise AssertionError("must not run")

    bus.subscribe(Happened, handler)

    async def start():
        bus.start()

    run(start())  # asyncio.run closes its loop at the end
    with caplog.at_level(logging.WARNING, logger="notifier_app.bus"):
        bus.emit(Happened(1))  # must not raise "Event loop is closed"
    assert any("not started" in r.getMessage() for r in caplog.records)
