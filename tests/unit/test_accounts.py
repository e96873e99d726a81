"""The account cache behind API authentication, on a real SQLite database."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlmodel import delete

from notifier_app import db
from notifier_app.auth.accounts import AccountCache, BatchedReads
from notifier_app.blog import services
from notifier_app.models import User
from tests.unit.conftest import run


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def remove(user_id: int) -> None:
    """What an operator might do by hand: the app itself never deletes accounts."""
    with db.session() as s:
        s.exec(delete(User).where(User.id == user_id))
        s.commit()


def test_an_account_is_remembered_for_the_ttl_then_looked_up_again(users):
    clock = Clock()
    cache = AccountCache(ttl=30, clock=clock)
    alice = users["alice"]

    first = run(cache.get(alice))
    assert (first.id, first.nickname) == (alice, "앨리스")
    remove(alice)
    clock.now += 29
    assert run(cache.get(alice)) == first  # within the TTL: no database round trip
    clock.now += 2
    assert run(cache.get(alice)) is None  # expired: the removal is seen


def test_unknown_ids_are_not_remembered(users):
    cache = AccountCache(clock=Clock())
    assert run(cache.get(999_999)) is None
    assert cache._entries == {}


def test_the_oldest_entries_make_room(users):
    cache = AccountCache(max_entries=2, clock=Clock())
    for name in ("alice", "bob", "carol"):
        run(cache.get(users[name]))
    assert list(cache._entries) == [users["bob"], users["carol"]]


def test_fresh_reads_the_database_even_within_the_ttl(users):
    clock = Clock()
    cache = AccountCache(ttl=30, clock=clock)
    alice = users["alice"]
    assert run(cache.get(alice)) is not None
    remove(alice)
    assert run(cache.get(alice, fresh=True)) is None  # a stream opening sees the removal at once
    assert run(cache.get(alice)) is None  # and the remembered account is gone with it


def test_fresh_reads_are_not_remembered(users):
    cache = AccountCache(clock=Clock())
    assert run(cache.get(users["alice"], fresh=True)) is not None
    assert cache._entries == {}  # an opening stream's read: it lives for hours, its account is not asked for again


def test_expired_entries_are_dropped_at_the_next_lookup(users):
    clock = Clock()
    cache = AccountCache(ttl=30, clock=clock)
    run(cache.get(users["alice"]))
    clock.now += 10
    run(cache.get(users["bob"]))
    clock.now += 25  # alice's entry expired, bob's has not
    run(cache.get(users["carol"]))
    assert list(cache._entries) == [users["bob"], users["carol"]]


class CountedReads:
    """The real `services.get_users`, counting its calls and the ids of each."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def __call__(self, user_ids: list[int]) -> dict:
        self.calls.append(list(user_ids))
        return services.get_users(user_ids)


def test_lookups_asked_for_together_are_one_read(users):
    reads = CountedReads()
    cache = AccountCache(clock=Clock())
    cache._reads = BatchedReads(reads)
    wanted = [users["alice"], users["bob"], users["alice"], 999_999, users["carol"]]

    async def together():
        return await asyncio.gather(*(cache.get(user_id, fresh=True) for user_id in wanted))

    found = run(together())
    assert [user.id if user else None for user in found] == [
        users["alice"], users["bob"], users["alice"], None, users["carol"]
    ]
    assert len(reads.calls) == 1, f"one read for five lookups, not {reads.calls}"
    assert sorted(reads.calls[0]) == sorted({*wanted})  # each id once


def test_lookups_during_a_read_go_out_together_in_the_next(users):
    entered, release = threading.Event(), threading.Event()
    calls: list[list[int]] = []

    def held_first_read(user_ids):
        calls.append(list(user_ids))
        if len(calls) == 1:
            entered.set()
            assert release.wait(10), "the test never released the first read"
        return services.get_users(user_ids)

    reads = BatchedReads(held_first_read)

    async def scenario():
        first = asyncio.ensure_future(reads.get(users["alice"]))
        assert await asyncio.to_thread(entered.wait, 10), "the first read never started"
        later = [asyncio.ensure_future(reads.get(users[name])) for name in ("bob", "carol")]
        await asyncio.sleep(0)  # (both are queued now)
        release.set()
        return await first, await asyncio.gather(*later)

    first, later = run(scenario())
    assert first.id == users["alice"] and [user.id for user in later] == [users["bob"], users["carol"]]
    assert calls == [[users["alice"]], [users["bob"], users["carol"]]]


def test_a_failed_read_fails_its_lookups_and_the_next_read_goes_ahead(users):
    calls: list[list[int]] = []

    def failing_once(user_ids):
        calls.append(list(user_ids))
        if len(calls) == 1:
            raise RuntimeError("database unavailable")
        return services.get_users(user_ids)

    reads = BatchedReads(failing_once)

    async def scenario():
        with pytest.raises(RuntimeError, match="database unavailable"):
            await reads.get(users["alice"])
        return await reads.get(users["alice"])

    assert run(scenario()).id == users["alice"]
    assert len(calls) == 2


def test_a_cancelled_lookup_leaves_the_others_answered(users):
    reads = BatchedReads(services.get_users)

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

    reads = BatchedReads(counted, max_batch=2)

    async def together():
        return await asyncio.gather(*(reads.get(users[name]) for name in ("alice", "bob", "carol")))

    assert [user.id for user in run(together())] == [users["alice"], users["bob"], users["carol"]]
    assert [len(ids) for ids in calls] == [2, 1]
