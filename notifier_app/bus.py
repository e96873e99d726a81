"""An in-process domain event bus: code emits facts, listeners react, emitters never wait.

The blog emits `PostCreated` / `CommentCreated` here and knows nothing of what listens.
It emits them inside the write's own transaction, which gives listeners two ways in:

- `subscribe_in_transaction`: a plain function that writes in that transaction (the
  notification log), so the write and what it causes are committed together or not at
  all — nothing is lost to a crash between two commits;
- `subscribe`: a coroutine run as a task on the loop the bus was started on, once the
  transaction has committed (never, if it rolls back).

`emit` is safe to call from any thread (FastAPI runs sync endpoints in a thread pool).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import Session

from notifier_app import db
from notifier_app.background import LoopTasks

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]
InTransactionHandler = Callable[[Session, Any], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)
        self._in_transaction: dict[type, list[InTransactionHandler]] = defaultdict(list)
        self._tasks = LoopTasks(log)

    def subscribe(self, event_type: type, handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    def subscribe_in_transaction(self, event_type: type, handler: InTransactionHandler) -> None:
        self._in_transaction[event_type].append(handler)

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._tasks.start(loop)

    def emit(self, event: object, *, session: Session | None = None) -> None:
        """Tell the listeners. `session` is the open transaction the event happened in;
        without one (the write is committed already), in-transaction listeners get a
        short transaction of their own — it blocks, so call that from a worker thread."""
        writers = self._in_transaction.get(type(event))
        if session is None and writers:
            with db.session() as own:
                self.emit(event, session=own)
                own.commit()
            return
        for write in writers or ():
            write(session, event)
        if not self._handlers.get(type(event)):
            return
        if session is None:
            self._schedule(event)
        else:
            db.after_commit(session, lambda: self._schedule(event))

    def _schedule(self, event: object) -> None:
        for handler in self._handlers[type(event)]:
            if not self._tasks.submit(handler, event):
                log.warning("event bus not started; dropped %s", type(event).__name__)
                return

    @property
    def pending(self) -> int:
        """Handlers running now."""
        return self._tasks.pending

    async def drain(self) -> None:
        """Wait for the handlers of events already emitted (shutdown, tests)."""
        await self._tasks.drain()


bus = EventBus()
