"""Start-up and shutdown of one backend worker (registered with app.register_lifespan_task).

Reflex's prod server imports the app and then forks workers, so nothing here may run at
import time: the bus binds to this worker's loop, the listener is attached, retention runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
from datetime import timedelta

from notifier_app import db
from notifier_app.api.hot_paths import hot_paths
from notifier_app.bus import bus
from notifier_app.config import settings
from notifier_app.realtime import listener, log, notifier, registry, status
from notifier_app.realtime.broker import InProcessBroker
from notifier_app.realtime.streams import StreamHandoff

logger = logging.getLogger("notifier")

PRUNE_EVERY_SECONDS = 3600
CHECKPOINT_EVERY_SECONDS = 1.0

_listener_attached = False


def raise_open_file_limit() -> tuple[int, int]:
    """Every stream is a socket: lift the soft open-file limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def configure_logging() -> None:
    """Our loggers ("notifier", "notifier_app") at NOTIFIER_LOG_LEVEL (INFO), on stderr."""
    level = os.environ.get("NOTIFIER_LOG_LEVEL", "INFO").upper()
    for name in ("notifier", "notifier_app"):
        named = logging.getLogger(name)
        named.setLevel(level)
        if not named.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            named.addHandler(handler)
            named.propagate = False


def make_broker():
    """Redis fan-out when Reflex is given a Redis URL (several workers), else in-process."""
    from reflex.config import get_config

    url = os.environ.get("REFLEX_REDIS_URL") or get_config().redis_url
    if url:
        from notifier_app.realtime.redis_broker import RedisBroker

        logger.info("notifications fan out through redis")
        return RedisBroker(notifier.dispatcher, url)
    return InProcessBroker(notifier.dispatcher)


async def _prune_forever(max_age: timedelta) -> None:
    while True:
        try:
            removed = await asyncio.to_thread(log.prune, max_age)
            if removed:
                logger.info("retention: pruned %d notifications older than %s", removed, max_age)
        except Exception:
            logger.exception("retention: prune failed")
        await asyncio.sleep(PRUNE_EVERY_SECONDS)


async def _checkpoint_forever() -> None:
    """SQLite: move the write-ahead log into the database file off the request path (db.py)."""
    while True:
        await asyncio.sleep(CHECKPOINT_EVERY_SECONDS)
        try:
            await asyncio.to_thread(db.checkpoint)
        except Exception:
            logger.exception("sqlite: checkpoint failed")


# Collect the youngest generation after 50,000 net new container objects instead of 700.
# A broadcast briefly creates a few objects per stream (wake-ups, new waits) that are gone
# again when it is done; at 700, a broadcast to 5,000 streams ran ~18 young collections,
# each promoting the streams' live objects, and every few broadcasts a full collection
# walked them all (0.2-0.3 s of CPU at 5,000 streams, 0.9 s before StreamHandoff). With
# these thresholds the same broadcasts ran no collection at all. Opening and closing
# streams leaves no cyclic garbage (measured), so the older generations can wait long.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """After start-up: move what start-up created out of the collector's way, and tune it.

    gc.freeze() puts every object alive now (modules, the app, its routes, compiled
    queries) into a generation the collector never walks; they live as long as the
    process anyway. Reflex freezes its own heap before forking workers; this freezes
    what the worker built since.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def install_stream_handoff(starlette_app) -> None:
    """Put StreamHandoff outside every middleware of the app the server runs (see streams.py),
    and inside it the hot paths' way past those middlewares (api/hot_paths.py).

    Reflex passes its top-level Starlette app to lifespan tasks that ask for it; its
    middleware stack is built by the time the lifespan runs (Starlette builds it on the
    first call, which is the lifespan's), and requests after this one use the new stack.
    """
    stack = getattr(starlette_app, "middleware_stack", None)
    if stack is None or isinstance(stack, StreamHandoff):
        return
    starlette_app.middleware_stack = StreamHandoff(hot_paths(stack))


@contextlib.asynccontextmanager
async def realtime_lifespan(starlette_app=None):
    global _listener_attached
    configure_logging()
    cfg = settings()  # refuses to start without NOTIFIER_JWT_SECRET in production
    soft, _hard = raise_open_file_limit()
    if soft != resource.RLIM_INFINITY and soft < cfg.max_streams + 1024:
        logger.warning(
            "open-file limit %d is below NOTIFIER_MAX_STREAMS=%d plus headroom: streams past the limit will fail "
            "to connect; raise the hard limit (ulimit -Hn, systemd LimitNOFILE=) or lower NOTIFIER_MAX_STREAMS",
            soft,
            cfg.max_streams,
        )
    registry.default_maxsize = cfg.subscriber_queue_size
    if starlette_app is not None:
        install_stream_handoff(starlette_app)
    notifier.broker = make_broker()
    await notifier.broker.start()
    notifier.start()
    bus.start()
    if not _listener_attached:
        listener.register(bus, notifier)
        _listener_attached = True
    pruner = None
    if cfg.retention_days > 0:  # 0 keeps history forever
        pruner = asyncio.create_task(_prune_forever(timedelta(days=cfg.retention_days)), name="notifier-retention")
    sampler = asyncio.create_task(status.sample_forever(), name="notifier-status-sampler")
    checkpointer = asyncio.create_task(_checkpoint_forever(), name="notifier-checkpoint") if db.is_sqlite() else None
    tune_gc()
    try:
        yield
    finally:
        sampler.cancel()
        if checkpointer is not None:
            checkpointer.cancel()
        if pruner is not None:
            pruner.cancel()
        await bus.drain()
        await notifier.drain()
        await notifier.broker.stop()
