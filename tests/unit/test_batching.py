"""BatchedReads (notifier_app/batching.py), with the real account read behind it (SQLite)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from notifier_app.batching import BatchedReads
from notifier_app.blog import services
from tests.unit.conftest import run


class HeldFirstRead:
    """The real account read, the first call held in its worker thread until released."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, user_ids: list[int]) -> dict:
        self.calls.append(list(user_ids))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(10), "the test never released the first read"
        return services.get_users(user_ids)

    async def started(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, 10), "the first read never started"


def test_lookups_during_a_read_go_out_together_in_the_next(users):
    held = HeldFirstRead()
    reads = BatchedReads(held, name="test")

    async def scenario():
        first = asyncio.ensure_future(reads.get(users["alice"]))
        await held.started()
        later = [asyncio.ensure_future(reads.get(users[name])) for name in ("bob", "carol")]
        await asyncio.sleep(0)  # (both are queued now)
        held.release.set()
        return await first, await asyncio.gather(*later)

    first, later = run(scenario())
    assert first.id == users["alice"] and [user.id for user in later] == [users["bob"], users["carol"]]
    assert held.calls == [[users["alice"]], [users["bob"], users["carol"]]]


def test_a_failed_read_fails_its_lookups_and_the_next_read_goes_ahead(users):
    calls: list[list[int]] = []

    def failing_once(user_ids):
        calls.append(list(user_ids))
        if len(calls) == 1:
            raise RuntimeError("database unavailable")
        return services.get_users(user_ids)

    reads = BatchedReads(failing_once, name="test")

    async def scenario():
        with pytest.raises(RuntimeError, match="database unavailable"):
            await reads.get(users["alice"])
        return await reads.get(users["alice"])

    assert run(scenario()).id == users["alice"]
    assert len(calls) == 2


def test_a_cancelled_lookup_leaves_the_others_answered(users):
    reads = BatchedReads(services.get_users, name="test")

    async def scenario():
        gone = asyncio.ensure_future(reads.get(users["alice"]))
        kept = asyncio.ensure_future(reads.get(users["bob"]))
        await asyncio.sleep(0)
        gone.cancel()
        return await kept, await asyncio.gather(gone, return_exceptions=True)

    kept, (gone,) = run(scenario())
    assert kept.id == users["bob"]
    assert isinstance(gone, asyncio.CancelledError)


def test_the_read_is_capped_at_max_batch(users):
    calls: list[list[int]] = []

    def counted(user_ids):
        calls.append(list(user_ids))
        return services.get_users(user_ids)

    reads = BatchedReads(counted, name="test", max_batch=2)

    async def together():
        return await asyncio.gather(*(reads.get(users[name]) for name in ("alice", "bob", "carol")))

    assert [user.id for user in run(together())] == [users["alice"], users["bob"], users["carol"]]
    assert [len(ids) for ids in calls] == [2, 1]


def test_a_read_cut_short_cancels_the_lookups_it_held_and_a_later_one_reads_again(users):
    held = HeldFirstRead()
    reads = BatchedReads(held, name="test")

    async def scenario():
        in_read = asyncio.ensure_future(reads.get(users["alice"]))
        await held.started()
        queued = asyncio.ensure_future(reads.get(users["bob"]))
        await asyncio.sleep(0)
        reads._reader.cancel()  # what the loop's shutdown does to the reader
        cut = await asyncio.gather(in_read, queued, return_exceptions=True)
        held.release.set()
        return cut, await reads.get(users["carol"])

    cut, later = run(scenario())
    assert [type(outcome) for outcome in cut] == [asyncio.CancelledError, asyncio.CancelledError]
    assert later.id == users["carol"]
