"""Who a token's user is, remembered for a few seconds: the lookup behind authentication.

Accounts do not change once created (the app has no rename, role change or deletion), so
a lookup is kept for `CACHE_SECONDS`: a request whose caller was seen recently
authenticates on the event loop, with no database round trip and no hop to a worker
thread. The limit bounds how long an account an operator edits or deletes by hand keeps
its old face. Unknown ids are not remembered, expired entries are dropped, and the reads
of opening streams (fresh: a stream lives for hours) are not kept: 10,000 streams opened
by as many users held ~0.7 KB each here, for nothing (bench/README.md).

Lookups that miss are read together: the ids asked for while a read is under way go out
in the next one, one statement in one worker-thread hop (`BatchedReads`). A lone request
waits for nothing more than before; a reconnect storm reads hundreds of accounts per
query instead of one per hop.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Hashable

from notifier_app.blog import services
from notifier_app.blog.schemas import UserPublic

CACHE_SECONDS = 30.0
MAX_ENTRIES = 10_000
MAX_BATCH = 500  # ids per read (SQLite allows 32,766 bound parameters)


class BatchedReads:
    """Reads by key that arrive together, done together: one call of `read_many(keys)`
    (a dict of what it found) in a worker thread at a time, with every key asked for
    meanwhile. A key it did not find resolves to None; a read that fails fails the
    requests it served, and the next read goes ahead.
    """

    def __init__(self, read_many: Callable[[list], dict], max_batch: int = MAX_BATCH) -> None:
        self._read_many = read_many
        self._max_batch = max_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wanted: dict[Hashable, list[asyncio.Future]] = {}  # for the next read
        self._reader: asyncio.Task | None = None

    async def get(self, key: Hashable):
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # the first call, or another loop than before (tests)
            self._loop, self._wanted, self._reader = loop, {}, None
        future = loop.create_future()
        self._wanted.setdefault(key, []).append(future)
        if self._reader is None:
            self._reader = loop.create_task(self._read(), name="notifier-account-reads")
        return await future

    async def _read(self) -> None:
        waiting: dict[Hashable, list[asyncio.Future]] = {}
        try:
            while self._wanted:
                keys = list(itertools.islice(self._wanted, self._max_batch))
                waiting = {key: self._wanted.pop(key) for key in keys}
                try:
                    found = await asyncio.to_thread(self._read_many, keys)
                except Exception as exc:  # noqa: BLE001 (each request meets it)
                    for futures in waiting.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    continue
                for key, futures in waiting.items():
                    value = found.get(key)
                    for future in futures:
                        if not future.done():  # (its request may have been cancelled)
                            future.set_result(value)
                waiting = {}
        finally:
            self._reader = None
            for futures in itertools.chain(waiting.values(), self._wanted.values()):
                for future in futures:
                    future.cancel()  # the loop is closing: nobody will read them
            self._wanted.clear()


class AccountCache:
    def __init__(
        self, ttl: float = CACHE_SECONDS, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[int, tuple[float, UserPublic]] = {}  # oldest first
        self._reads = BatchedReads(services.get_users)

    async def get(self, user_id: int, *, fresh: bool = False) -> UserPublic | None:
        """The account, or None if there is no such user. `fresh` reads it from the
        database whatever is remembered, and forgets what was."""
        now = self._clock()
        entries = self._entries
        entry = entries.get(user_id)
        if not fresh and entry is not None and entry[0] > now:
            return entry[1]
        entries.pop(user_id, None)
        # Oldest first, and every entry lives as long: the expired ones are at the front.
        while entries and next(iter(entries.values()))[0] <= now:
            del entries[next(iter(entries))]
        user = await self._reads.get(user_id)
        if user is None:
            return None
        if not fresh:
            entries[user_id] = (now + self.ttl, user)
            while len(entries) > self.max_entries:
                del entries[next(iter(entries))]
        return user

    def clear(self) -> None:
        self._entries.clear()


accounts = AccountCache()
