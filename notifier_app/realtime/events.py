"""Notification events: the JSON every stream client receives, built only here.

Shape (SPEC.md): {id, type, title, message, href, createdAt, author: {id, nickname}},
with the author id as a string, as in the original.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from notifier_app.blog.schemas import iso_utc

POST_CREATED = "post.created"
COMMENT_CREATED = "comment.created"
STREAM_RESET = "stream.reset"

EXCERPT_LENGTH = 50

Event = dict[str, Any]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _event(type_: str, title: str, message: str, href: str, created_at: datetime | None, author: Event | None) -> Event:
    event: Event = {
        "id": str(uuid.uuid4()),
        "type": type_,
        "title": title,
        "message": message,
        "href": href,
        "createdAt": iso_utc(created_at or _now()),
    }
    if author is not None:
        event["author"] = author
    return event


def _author(user_id: int | str, nickname: str) -> Event:
    return {"id": str(user_id), "nickname": nickname}


def post_created(
    *, post_id: int, title: str, author_id: int, author_nickname: str, created_at: datetime | None = None
) -> Event:
    return _event(
        POST_CREATED,
        "새 게시글",
        f'{author_nickname}님이 "{title}" 글을 작성했어요.',
        f"/posts/{post_id}",
        created_at,
        _author(author_id, author_nickname),
    )


def comment_created(
    *,
    post_id: int,
    comment_id: int,
    content: str,
    author_id: int,
    author_nickname: str,
    created_at: datetime | None = None,
) -> Event:
    return _event(
        COMMENT_CREATED,
        "새 댓글",
        f"{author_nickname}님: {content[:EXCERPT_LENGTH]}",
        f"/posts/{post_id}#comment-{comment_id}",
        created_at,
        _author(author_id, author_nickname),
    )


def stream_reset() -> Event:
    """Sent first on resume when the client's Last-Event-ID is older than the kept history."""
    return _event(
        STREAM_RESET,
        "알림 일부 누락",
        "연결이 끊긴 동안의 알림 중 일부는 보관 기간이 지나 전달되지 않았어요.",
        "/notifications",
        None,
        None,
    )


NOTICE = "notice"
NOTICE_LEVELS = ("info", "success", "warning", "error")


def notice(*, title: str, message: str, level: str, author_id: int, author_nickname: str) -> Event:
    """An admin's notice (POST /notifications/send); `level` picks the toast's look."""
    event = _event(NOTICE, title, message, "/notifications", None, _author(author_id, author_nickname))
    event["level"] = level
    return event


def entity_update(*, entity_type: str, entity_id: str, action: str, data: Any) -> Event:
    """What subscribers of GET /realtime/stream?entity=<type>:<id> receive."""
    return {
        "entityType": entity_type,
        "entityId": entity_id,
        "action": action,
        "data": data,
        "createdAt": iso_utc(_now()),
    }


def chat_message(*, room: str, message: str, author_id: int, author_nickname: str, created_at: datetime) -> Event:
    """What members of a chat room receive (GET /chat/stream?room=<name>)."""
    return {
        "roomId": room,
        "message": message,
        "author": _author(author_id, author_nickname),
        "createdAt": iso_utc(created_at),
    }
