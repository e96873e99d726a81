"""Coroutines started from any thread on one event loop, each kept until it is done.

The bus runs its handlers this way and the notifier its publishes: both are asked from
worker threads (FastAPI's sync endpoints, a committing transaction) to run something on
the worker's loop. A task is referenced until it ends (the loop keeps only weak ones),
a failure is logged, and `drain` waits for everything submitted so far.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any


class LoopTasks:
    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task] = set()

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()

    def submit(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> bool:
        """Run `fn(*args)` as a task on the loop, from any thread; False if there is no loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        loop.call_soon_threadsafe(self._spawn, fn, args)
        return True

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def _spawn(self, fn: Callable[..., Awaitable[Any]], args: tuple) -> None:
        task = asyncio.ensure_future(self._run(fn, args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, fn: Callable[..., Awaitable[Any]], args: tuple) -> None:
        try:
            await fn(*args)
        except Exception:
            self._logger.exception("%s failed for %s", getattr(fn, "__qualname__", fn), ", ".join(map(repr, args)))

    async def drain(self) -> None:
        """Wait for what was submitted so far, and for what that submits in turn.

        `submit` schedules the task with call_soon_threadsafe, so something submitted just
        before is not a task yet: yield to the loop first (and again after each round).
        """
        while True:
            await asyncio.sleep(0)
            if not self._tasks:
                return
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
