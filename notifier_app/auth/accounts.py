"""Who a token's user is, remembered for a few seconds: the lookup behind authentication.

Accounts do not change once created (the app has no rename, role change or deletion), so
a lookup is kept for `CACHE_SECONDS`: a request whose caller was seen recently
authenticates on the event loop, with no database round trip and no hop to a worker
thread. The limit bounds how long an account an operator edits or deletes by hand keeps
its old face. Unknown ids are not remembered, expired entries are dropped, and the reads
of opening streams (fresh: a stream lives for hours) are not kept: 10,000 streams opened
by as many users held ~0.7 KB each here, for nothing (bench/README.md).

Lookups that miss are read together: the ids asked for while a read is under way go out
in the next one, one statement in one worker-thread hop (batching.py). A lone request
waits for nothing more than before; a reconnect storm reads hundreds of accounts per
query instead of one per hop.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from notifier_app.batching import BatchedReads
from notifier_app.blog import services
from notifier_app.blog.schemas import UserPublic

CACHE_SECONDS = 30.0
MAX_ENTRIES = 10_000


class AccountCache:
    def __init__(
        self, ttl: float = CACHE_SECONDS, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[int, tuple[float, UserPublic]] = {}  # oldest first
        self._reads = BatchedReads(services.get_users, name="notifier-account-reads")

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

    def forget(self, user_id: int) -> None:
        """Drop what is remembered of this account (it was found gone: api/faults.py)."""
        self._entries.pop(user_id, None)

    def clear(self) -> None:
        self._entries.clear()


accounts = AccountCache()
