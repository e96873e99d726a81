"""Reads that many requests ask for at once, done together in one worker-thread hop.

A request that needs the database on the event loop's behalf hops to a worker thread and
back; under a storm of them (10,000 streams reconnecting after a restart) the hops, one
short transaction each and the threads' turns at the GIL cost far more than the reads
(bench/README.md, items 31-32). `BatchedReads` sends every key asked for while a read is
under way in the next read: one call, one transaction, however many keys.

A read starts after every request it answers was made: a caller that subscribed before
asking (feeds.py) never gets an answer read before its subscription.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Hashable

# Keys per read: a bound on one read's time (and within SQLite's 32,766 bound parameters
# for a read that puts every key in one statement).
MAX_BATCH = 500


class BatchedReads:
    """Reads by key that arrive together, done together: one call of `read_many(keys)`
    (a dict of what it found) in a worker thread at a time, with every key asked for
    meanwhile. A key it did not find resolves to None; a read that fails fails the
    requests it served, and the next read goes ahead. It serves one event loop at a time
    (the worker's; tests start a new one now and then).
    """

    def __init__(self, read_many: Callable[[list], dict], *, name: str, max_batch: int = MAX_BATCH) -> None:
        self._read_many = read_many
        self._name = name
        self._max_batch = max_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wanted: dict[Hashable, list[asyncio.Future]] = {}  # for the next read
        self._reader: asyncio.Task | None = None

    async def get(self, key: Hashable):
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # the first call, or a new loop
            self._loop, self._wanted, self._reader = loop, {}, None
        future = loop.create_future()
        self._wanted.setdefault(key, []).append(future)
        if self._reader is None:
            self._reader = loop.create_task(self._read(), name=self._name)
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
                    for future in itertools.chain.from_iterable(waiting.values()):
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for key, futures in waiting.items():
                        value = found.get(key)
                        for future in futures:
                            if not future.done():  # (its request may have been cancelled)
                                future.set_result(value)
                waiting = {}
        finally:
            self._reader = None
            for future in itertools.chain.from_iterable([*waiting.values(), *self._wanted.values()]):
                future.cancel()  # the loop is closing: nobody will read them
            self._wanted.clear()
