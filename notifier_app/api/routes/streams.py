"""Stream endpoints. Every stream shares the same auth options (Bearer, cookie, ?token=),
per-user and global limits, heartbeat, headers and disconnect cleanup (EventStream)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from notifier_app.api.deps import authenticate_until
from notifier_app.blog.schemas import UserPublic
from notifier_app.config import settings
from notifier_app.realtime import chat, limits, notifier, registry, sse, status
from notifier_app.realtime.feeds import ChannelFeed, NotificationFeed
from notifier_app.realtime.registry import SubscriptionClosed
from notifier_app.realtime.streams import EventStream, Feed

router = APIRouter()

MAX_ENTITIES = 20


def last_event_id(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    if raw is None:
        return None
    raw = raw.strip()
    # Not a number: treated as a fresh connect, not an error.
    # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses (a 500).
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


def refused(kind: str) -> JSONResponse:
    if kind == "server":
        return JSONResponse(
            {"detail": "The server is at its stream limit; retry later"}, status_code=503, headers={"Retry-After": "5"}
        )
    if kind == "status":
        detail = f"Too many open status streams (at most {settings().max_status_streams}); retry later"
    else:
        detail = f"Too many open streams for this user (at most {settings().max_streams_per_user})"
    return JSONResponse({"detail": detail}, status_code=429, headers={"Retry-After": "5"})


def invalid(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=422)


async def user_stream(request: Request, open_feed: Callable[[UserPublic], Awaitable[Feed]]) -> EventStream | JSONResponse:
    """Authenticate, check the caps, open the feed, stream it."""
    cfg = settings()
    if limits.refusal("", per_user=cfg.max_streams_per_user, total=cfg.max_streams) == "server":
        return refused("server")  # before any work: a full server answers at once
    # Fresh from the database: a stream is opened once and then lives for hours.
    user, expires_at = await authenticate_until(request, allow_query=True, fresh=True)
    slot = f"user:{user.id}"
    if refusal := limits.refusal(slot, per_user=cfg.max_streams_per_user, total=cfg.max_streams):
        return refused(refusal)
    # Take the slot now: opening the feed awaits, and requests checked meanwhile must see it
    # (else a burst of connects all pass the check and overshoot both caps).
    limits.acquire(slot)
    try:
        feed = await open_feed(user)
        return EventStream(
            feed,
            heartbeat=cfg.heartbeat_seconds,
            retry_ms=cfg.retry_ms,
            limits=limits,
            slot=slot,
            expires_at=expires_at,
            slot_held=True,
        )
    except BaseException:
        limits.release(slot)
        raise


@router.get("/notifications/stream", response_model=None, responses={401: {}, 429: {}, 503: {}})
async def notification_stream(request: Request) -> EventStream | JSONResponse:
    resume = last_event_id(request)
    return await user_stream(request, lambda user: NotificationFeed.open(registry, user.id, resume, notifier.dispatcher))


@router.get("/realtime/stream", response_model=None, responses={401: {}, 422: {}, 429: {}, 503: {}})
async def entity_stream(request: Request) -> EventStream | JSONResponse:
    """Updates of the entities named by `entity=<type>:<id>` (repeatable)."""
    entities = request.query_params.getlist("entity")
    if not entities or len(entities) > MAX_ENTITIES:
        return invalid(f"Give 1 to {MAX_ENTITIES} entity=<type>:<id> parameters")
    channels = []
    for entity in entities:
        entity_type, _, entity_id = entity.partition(":")
        if not (chat.valid_name(entity_type) and chat.valid_name(entity_id)):
            return invalid(f"Invalid entity {entity[:80]!r}: <type>:<id>, each 1-64 letters, digits, - or _")
        channels.append(("entity", f"{entity_type}:{entity_id}"))

    async def open_feed(_user: UserPublic) -> ChannelFeed:
        return ChannelFeed(registry.subscribe(*channels))

    return await user_stream(request, open_feed)


@router.get("/chat/stream", response_model=None, responses={401: {}, 422: {}, 429: {}, 503: {}})
async def chat_stream(request: Request) -> EventStream | JSONResponse:
    """A chat room: its kept history (after Last-Event-ID, if given), then live messages."""
    room = request.query_params.get("room", "")
    if not chat.valid_name(room):
        return invalid("room must be 1-64 letters, digits, - or _")
    resume = last_event_id(request)

    async def open_feed(_user: UserPublic) -> ChannelFeed:
        subscription = registry.subscribe(chat.room_channel(room))
        try:
            backlog = await chat.backlog(room, resume)
        except BaseException:
            subscription.close()
            raise
        return ChannelFeed(subscription, backlog)

    return await user_stream(request, open_feed)


@router.get("/system/status")
async def system_status() -> dict:
    return status.snapshot()


class StatusFeed:
    """The status snapshot every few seconds (public: it counts toward the global cap, and
    NOTIFIER_MAX_STATUS_STREAMS of them at most)."""

    def __init__(self) -> None:
        self._closed = asyncio.Event()
        self._first = True

    def wait(self, timeout: float) -> Awaitable[None] | None:
        if self._first:
            return None
        return asyncio.ensure_future(self._quiet(min(timeout, status.SAMPLE_EVERY_SECONDS)))

    async def _quiet(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), seconds)

    def take_frame(self) -> bytes:
        self._first = False
        if self._closed.is_set():
            raise SubscriptionClosed
        return sse.frame(status.snapshot(), event="status")

    def close(self) -> None:
        self._closed.set()


@router.get("/system/status/stream", response_model=None)
async def system_status_stream(_request: Request) -> EventStream | JSONResponse:
    cfg = settings()
    # Anyone may open one, so they have a cap of their own: never the whole server's.
    if refusal := limits.refusal("system", per_user=cfg.max_status_streams, total=cfg.max_streams):
        return refused("status" if refusal == "user" else refusal)
    return EventStream(StatusFeed(), heartbeat=cfg.heartbeat_seconds, retry_ms=cfg.retry_ms, limits=limits, slot="system")


# The stream endpoints by path: a connect calls them without the framework stacks
# (api/hot_paths.py), so each takes only the request, GET only, on a fixed path (a test checks).
ENDPOINTS = {route.path: route.endpoint for route in router.routes if route.path.endswith("/stream")}
