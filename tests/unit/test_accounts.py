"""The account cache behind API authentication, on a real SQLite database."""

from __future__ import annotations

import asyncio

from sqlmodel import delete

from notifier_app import db
from notifier_app.auth.accounts import AccountCache
from notifier_app.batching import BatchedReads
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
    cache._reads = BatchedReads(reads, name="test")
    wanted = [users["alice"], users["bob"], users["alice"], 999_999, users["carol"]]

    async def together():
        return await asyncio.gather(*(cache.get(user_id, fresh=True) for user_id in wanted))

    found = run(together())
    assert [user.id if user else None for user in found] == [
        users["alice"], users["bob"], users["alice"], None, users["carol"]
    ]
    assert len(reads.calls) == 1, f"one read for five lookups, not {reads.calls}"
    assert sorted(reads.calls[0]) == sorted({*wanted})  # each id once


def test_a_forgotten_account_is_read_again(users):
    """An account found gone by a write (api/faults.py) is not remembered past that."""
    cache = AccountCache(ttl=30, clock=Clock())
    alice = users["alice"]
    assert run(cache.get(alice)) is not None
    remove(alice)
    assert run(cache.get(alice)) is not None  # remembered within the ttl
    cache.forget(alice)
    assert run(cache.get(alice)) is None
