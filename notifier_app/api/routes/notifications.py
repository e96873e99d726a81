"""The inbox: a user's notification history and read state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from notifier_app.api.deps import CurrentUser
from notifier_app.realtime import log, notifier

router = APIRouter(prefix="/api/notifications")


@router.get("")
async def list_notifications(
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> dict:
    # async, like the posts endpoints: a `def` endpoint's response is validated in a worker thread too
    items, unread = await run_in_threadpool(log.inbox, user.id, limit=limit, before=before)
    return {"items": items, "unreadCount": unread}


@router.post("/read-all", status_code=204)
async def mark_all_read(user: CurrentUser) -> Response:
    await run_in_threadpool(log.mark_all_read, user.id)
    await notifier.reads_changed(user.id)  # every open tab's badge, on every worker
    return Response(status_code=204)


@router.post("/{seq}/read", status_code=204)
async def mark_read(seq: Annotated[int, Path(ge=1, le=2**62)], user: CurrentUser) -> Response:
    if not await run_in_threadpool(log.mark_read, user.id, seq):
        raise HTTPException(404, f"Notification {seq} not found")
    await notifier.reads_changed(user.id)
    return Response(status_code=204)
