"""Stream endpoints: GET /notifications/stream and the public system status."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from notifier_app.api.deps import authenticate, request_token
from notifier_app.auth.security import token_expiry
from notifier_app.config import settings
from notifier_app.realtime import limits, notifier, registry, sse
from notifier_app.realtime.feeds import NotificationFeed
from notifier_app.realtime.registry import SubscriptionClosed
from notifier_app.realtime.streams import EventStream

router = APIRouter()

STATUS_INTERVAL_SECONDS = 2.0


def _last_event_id(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    if raw is None:
        return None
    raw = raw.strip()
    # Not a number: treated as a fresh connect, not an error (the spec says ignore it).
    # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses (a 500).
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


def _refused(kind: str) -> JSONResponse:
    if kind == "server":
        return JSONResponse(
            {"detail": "The server is at its stream limit; retry later"}, status_code=503, headers={"Retry-After": "5"}
        )
    return JSONResponse(
        {"detail": f"Too many open streams for this user (at most {settings().max_streams_per_user})"},
        status_code=429,
        headers={"Retry-After": "5"},
    )


@router.get("/notifications/stream", response_model=None, responses={401: {}, 429: {}, 503: {}})
async def notification_stream(request: Request) -> EventStream | JSONResponse:
    cfg = settings()
    refusal = limits.refusal("", per_user=cfg.max_streams_per_user, total=cfg.max_streams)
    if refusal == "server":
        return _refused(refusal)
    user = await run_in_threadpool(authenticate, request, allow_query=True)
    slot = f"user:{user.id}"
    if refusal := limits.refusal(slot, per_user=cfg.max_streams_per_user, total=cfg.max_streams):
        return _refused(refusal)
    # Take the slot now: opening the feed awaits, and requests checked meanwhile must see it.
    limits.acquire(slot)
    try:
        token, _ = request_token(request, allow_query=True)
        feed = await NotificationFeed.open(registry, user.id, _last_event_id(request))
        return EventStream(
            feed,
            heartbeat=cfg.heartbeat_seconds,
            retry_ms=cfg.retry_ms,
            limits=limits,
            slot=slot,
            expires_at=token_expiry(token),
            slot_held=True,
        )
    except BaseException:
        limits.release(slot)
        raise


def status_snapshot() -> dict:
    """Counts from this process. Runs on the event loop thread (it walks the registry)."""
    return {
        "connections": registry.total(),
        "streams": limits.total,
        "users": registry.channel_count("user"),
        "channels": registry.connection_counts(),
        "eventsPublished": dict(notifier.events_published),
        "droppedSubscribers": registry.dropped,
        "uptimeSeconds": round(time.monotonic() - notifier.started, 1),
        "tasks": len(asyncio.all_tasks()),
    }


@router.get("/system/status")
async def system_status() -> dict:
    return status_snapshot()


class StatusFeed:
    """The status snapshot every STATUS_INTERVAL_SECONDS (public, so it counts toward the global cap)."""

    def __init__(self) -> None:
        self._closed = asyncio.Event()
        self._first = True

    async def next_frame(self, timeout: float) -> bytes | None:
        if not self._first:
            try:
                await asyncio.wait_for(self._closed.wait(), min(timeout, STATUS_INTERVAL_SECONDS))
            except TimeoutError:
                pass
        self._first = False
        if self._closed.is_set():
            raise SubscriptionClosed
        return sse.frame(status_snapshot(), event="status")

    def close(self) -> None:
        self._closed.set()


@router.get("/system/status/stream", response_model=None)
async def system_status_stream() -> EventStream | JSONResponse:
    cfg = settings()
    if refusal := limits.refusal("system", per_user=cfg.max_streams, total=cfg.max_streams):
        return _refused(refusal)
    return EventStream(StatusFeed(), heartbeat=cfg.heartbeat_seconds, retry_ms=cfg.retry_ms, limits=limits, slot="system")

