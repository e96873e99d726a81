"""Password hashing in a bounded pool: no burst of logins or signups can take the server.

A hash is CPU and memory by design (argon2: auth/security.py). Run in the request thread
pool (40 threads), 100 concurrent wrong-password logins ran up to 40 hashes at once on
this 2-core machine: `/ping` waited 7-12 s and the server's RSS went from ~190 MB to
2.4 GB (argon2-cffi's default: 64 MiB, t=3, p=4 per hash; issue 21, scripts/
credential_storm.py). Here:
- at most NOTIFIER_HASH_WORKERS hashes run at once (default: one per core), in threads of
  their own: argon2 releases the GIL, so the event loop keeps its turn;
- at most NOTIFIER_HASH_QUEUE more wait, as futures (no thread, no argon2 memory);
- past that, `Busy` at once: the API answers `503` + `Retry-After` (how long the queue
  ahead takes to drain, from the measured time per hash), having done no work.
Asynchronous callers await a slot without holding any thread (`run`); synchronous ones
(scripts, the seed) call `run_sync` and block their own thread.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Busy(Exception):
    """The pool and its queue are full: try again in `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"password hashing is at capacity; retry in {retry_after} s")
        self.retry_after = retry_after


class HashingPool:
    def __init__(self, workers: int, queue: int) -> None:
        self.workers = workers
        self.queue = queue
        self._lock = threading.Lock()
        self._admitted = 0  # running + waiting
        self._seconds_per_job = 0.05  # a moving average, for Retry-After
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0

    @property
    def admitted(self) -> int:
        return self._admitted

    def _pool(self) -> ThreadPoolExecutor:
        # Created at first use, in the process that uses it: Reflex imports the app and then
        # forks its workers, and threads do not survive a fork.
        if self._executor is None or self._pid != os.getpid():
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="notifier-hash")
            self._pid = os.getpid()
        return self._executor

    def retry_after(self) -> int:
        """Seconds until the work admitted now is done (at least 1)."""
        return max(1, math.ceil(self._admitted / self.workers * self._seconds_per_job))

    def check(self) -> None:
        """Raise Busy now if work submitted now would be refused: a caller with work to do
        before its hash (a database read) skips it when it would be for nothing."""
        if self._admitted >= self.workers + self.queue:
            raise Busy(self.retry_after())

    def submit(self, fn: Callable[..., T], *args) -> Future[T]:
        """Admit `fn(*args)` or raise Busy; the slot is freed when it ends or is cancelled."""
        with self._lock:
            if self._admitted >= self.workers + self.queue:
                raise Busy(self.retry_after())
            self._admitted += 1
        try:
            future = self._pool().submit(self._timed, fn, *args)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _f: self._release())
        return future

    def _timed(self, fn: Callable[..., T], *args) -> T:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self._seconds_per_job += (time.perf_counter() - start - self._seconds_per_job) * 0.2

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    async def run(self, fn: Callable[..., T], *args) -> T:
        """`fn(*args)` in the pool, awaited without holding a thread; raises Busy when full.
        A caller that goes away while it waits gives its place up."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def run_sync(self, fn: Callable[..., T], *args) -> T:
        return self.submit(fn, *args).result()


_pool: HashingPool | None = None


def pool() -> HashingPool:
    """The process's pool, sized by NOTIFIER_HASH_WORKERS and NOTIFIER_HASH_QUEUE."""
    global _pool
    if _pool is None:
        from notifier_app.config import hash_queue, hash_workers

        _pool = HashingPool(hash_workers(), hash_queue())
    return _pool
