"""The bounded hashing pool (auth/hashing.py) and the argon2 parameters (auth/security.py)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from argon2 import PasswordHasher

from notifier_app.auth import security
from notifier_app.auth.hashing import Busy, HashingPool
from tests.unit.conftest import run


def test_at_most_workers_run_and_queue_wait_then_busy_at_once():
    pool = HashingPool(workers=2, queue=3)
    release = threading.Event()
    running = []

    def job(i):
        running.append(i)
        release.wait(5)
        return i

    futures = [pool.submit(job, i) for i in range(5)]  # 2 running, 3 waiting
    with pytest.raises(Busy) as refused:
        pool.submit(job, 5)
    assert refused.value.retry_after >= 1
    with pytest.raises(Busy):
        pool.check()
    assert pool.admitted == 5
    release.set()
    assert [f.result(5) for f in futures] == [0, 1, 2, 3, 4]
    assert len(running) == 5
    assert pool.run_sync(lambda: "again") == "again"
    assert pool.admitted == 0


def test_never_more_than_workers_at_once():
    pool = HashingPool(workers=2, queue=20)
    lock = threading.Lock()
    now = peak = 0

    def job():
        nonlocal now, peak
        with lock:
            now += 1
            peak = max(peak, now)
        threading.Event().wait(0.01)
        with lock:
            now -= 1

    for future in [pool.submit(job) for _ in range(20)]:
        future.result(5)
    assert peak == 2


def test_an_awaiting_caller_that_goes_away_gives_its_place_up():
    pool = HashingPool(workers=1, queue=1)
    release = threading.Event()

    async def scenario():
        running = asyncio.ensure_future(pool.run(release.wait, 5))
        waiting = asyncio.ensure_future(pool.run(lambda: "never"))
        await asyncio.sleep(0.05)
        assert pool.admitted == 2
        waiting.cancel()  # the client went away while queued
        await asyncio.sleep(0.05)
        assert pool.admitted == 1
        release.set()
        assert await running is True
        assert await pool.run(lambda: "next") == "next"

    run(scenario())
    assert pool.admitted == 0


def test_a_failing_job_frees_its_slot():
    pool = HashingPool(workers=1, queue=0)
    with pytest.raises(ZeroDivisionError):
        pool.run_sync(lambda: 1 / 0)
    assert pool.admitted == 0


def test_new_hashes_use_the_chosen_parameters_and_old_ones_still_verify():
    new = security.hash_password("correct horse")
    assert "$m=19456,t=2,p=1$" in new
    assert not security.needs_rehash(new)
    old = PasswordHasher().hash("correct horse")  # argon2-cffi's default: m=65536,t=3,p=4
    assert security.verify_password(old, "correct horse")
    assert security.needs_rehash(old)
    assert not security.needs_rehash("not a hash")
