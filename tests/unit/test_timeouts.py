"""Subscription timeouts on shared ticks (realtime/timeouts.py)."""

from __future__ import annotations

import asyncio

from notifier_app.realtime.registry import SubscriberRegistry, user_channel
from notifier_app.realtime.timeouts import TICK
from tests.unit.conftest import run


def test_many_waits_share_a_few_loop_timers_and_none_ends_early():
    reg = SubscriberRegistry()
    subs = [reg.subscribe(user_channel(n)) for n in range(1000)]

    async def main():
        loop = asyncio.get_running_loop()
        started = loop.time()
        waits = [asyncio.ensure_future(sub.next_item(timeout=0.2)) for sub in subs]
        await asyncio.sleep(0)  # every wait armed
        timers = len(loop._scheduled)  # what the loop holds: one per tick, not per wait
        results = await asyncio.gather(*waits)
        return timers, loop.time() - started, results

    timers, elapsed, results = run(main())
    assert timers <= 3, f"{timers} loop timers for 1,000 waits"
    assert results == [None] * 1000
    assert elapsed >= 0.2


def test_a_postponed_wait_outlives_its_first_deadline():
    reg = SubscriberRegistry()
    sub = reg.subscribe(user_channel(1))

    async def main():
        loop = asyncio.get_running_loop()
        started = loop.time()
        wait = asyncio.ensure_future(sub.next_item(timeout=0.1))
        await asyncio.sleep(0.05)
        sub.postpone(0.3, loop.time())  # an item went out through the sink meanwhile
        assert await wait is None
        return loop.time() - started

    assert run(main()) >= 0.35


def test_a_shorter_wait_after_a_longer_one_is_armed_again():
    reg = SubscriberRegistry()
    sub = reg.subscribe(user_channel(1))

    async def main():
        loop = asyncio.get_running_loop()
        long_wait = asyncio.ensure_future(sub.next_item(timeout=30))
        await asyncio.sleep(0)
        long_wait.cancel()  # as when a stream's task is cancelled mid-wait
        started = loop.time()
        assert await sub.next_item(timeout=0.05) is None  # not held until the 30 s tick
        return loop.time() - started

    assert run(main()) < 5


def test_a_subscription_closed_while_armed_is_skipped_and_others_still_time_out():
    reg = SubscriberRegistry()
    gone, staying = reg.subscribe(user_channel(1)), reg.subscribe(user_channel(2))

    async def main():
        gone_wait = asyncio.ensure_future(gone.next_item(timeout=0.1))
        staying_wait = asyncio.ensure_future(staying.next_item(timeout=0.1))
        await asyncio.sleep(0)
        gone.close()
        return await staying_wait, gone_wait

    result, gone_wait = run(main())
    assert result is None
    assert gone_wait.exception() is not None  # SubscriptionClosed, at close, not at the tick


def test_one_registry_serves_one_loop_after_another():
    # The module-level registry outlives test loops (and a worker's loop outlives nothing).
    reg = SubscriberRegistry()
    sub = reg.subscribe(user_channel(1))
    for _ in range(3):
        assert run(sub.next_item(timeout=TICK)) is None
