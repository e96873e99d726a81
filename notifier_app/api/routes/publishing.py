"""Publishing endpoints: admin notices, entity updates, chat messages (all 202 Accepted)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from starlette.concurrency import run_in_threadpool

from notifier_app.api.deps import CurrentUser
from notifier_app.blog import services
from notifier_app.blog.schemas import NoNul, UserPublic
from notifier_app.realtime import chat, events, notifier
from notifier_app.realtime.messages import Message

router = APIRouter()

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Action = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strict=True, populate_by_name=True)


class NoticeIn(_Input):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul]
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000), NoNul]
    level: Literal["info", "success", "warning", "error"] = "info"
    user_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(default=None, alias="userIds", max_length=1_000)


class EntityUpdateIn(_Input):
    entity_type: Name = Field(alias="entityType")
    entity_id: Name = Field(alias="entityId")
    action: Action
    data: Any = None

    @field_validator("entity_id", mode="before")
    @classmethod
    def _numeric_ids_too(cls, value: Any) -> Any:
        # Clients send database ids as JSON numbers; 5 and "5" name the same entity.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("data")
    @classmethod
    def _small(cls, value: Any) -> Any:
        # Python's JSON parser takes NaN/Infinity, which no browser's JSON.parse would read back.
        try:
            encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except ValueError:
            raise ValueError("data must be standard JSON (no NaN or Infinity)") from None
        if len(encoded) > 16_384:
            raise ValueError("data must encode to at most 16 KiB of JSON")
        return value


class ChatIn(_Input):
    room_id: Name = Field(alias="roomId")
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1_000), NoNul]


async def admin_user(user: CurrentUser) -> UserPublic:
    # A dependency, so that it answers before the body is validated: a non-admin gets 403
    # whatever they send, never a 422 describing what an admin's request should look like.
    if not user.is_admin:
        raise HTTPException(403, "Only admins can send notices")
    return user


@router.post("/notifications/send", status_code=202)
async def send_notice(data: NoticeIn, user: Annotated[UserPublic, Depends(admin_user)]) -> dict:
    event = events.notice(
        title=data.title, message=data.message, level=data.level, author_id=user.id, author_nickname=user.nickname
    )
    if data.user_ids is None:
        event["noticeId"] = event["id"]  # the same shape as a notice to listed users
        await notifier.publish(event)
        return {"id": event["id"]}
    recipients = sorted(set(data.user_ids))
    if not recipients:
        raise HTTPException(422, "userIds must not be empty (omit it to notify everyone)")
    unknown = set(recipients) - await run_in_threadpool(services.existing_user_ids, recipients)
    if unknown:
        raise HTTPException(422, f"Unknown user ids: {sorted(unknown)[:20]}")
    # One stored notification per recipient (each with its own id); `noticeId` ties them together.
    notice_id = event["id"]
    for recipient in recipients:
        copy = {**event, "id": str(uuid.uuid4()), "noticeId": notice_id}
        await notifier.publish(copy, user_id=recipient)
    return {"id": notice_id}


@router.post("/realtime/update", status_code=202)
async def update_entity(data: EntityUpdateIn, user: CurrentUser) -> dict:
    event = events.entity_update(entity_type=data.entity_type, entity_id=data.entity_id, action=data.action, data=data.data)
    await notifier.publish_message(Message.build(("entity", f"{data.entity_type}:{data.entity_id}"), event))
    return {"accepted": True}


@router.post("/chat/send", status_code=202)
async def send_chat(data: ChatIn, user: CurrentUser) -> dict:
    message = await asyncio.to_thread(chat.append, data.room_id, user.id, user.nickname, data.message)
    await notifier.publish_message(message)
    return {"id": message.id}


@router.get("/api/chat/rooms")
async def chat_rooms() -> dict:
    return {"rooms": list(chat.DEFAULT_ROOMS)}
