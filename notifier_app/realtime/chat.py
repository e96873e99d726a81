"""Chat rooms: messages are kept (the newest HISTORY per room) and replayed on join."""

from __future__ import annotations

import re

from sqlmodel import col, delete, select

from notifier_app import db
from notifier_app.models import ChatMessage
from notifier_app.realtime import events
from notifier_app.realtime.messages import Message

HISTORY = 50
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEFAULT_ROOMS = ("general", "random", "dev")


def room_channel(room: str) -> tuple[str, str]:
    return ("room", room)


def valid_name(value: str) -> bool:
    return bool(NAME.fullmatch(value))


def _message(row: ChatMessage) -> Message:
    data = events.chat_message(
        room=row.room, message=row.message, author_id=row.user_id, author_nickname=row.nickname, created_at=row.created_at
    )
    return Message.build(room_channel(row.room), data, row.id)


def append(room: str, user_id: int, nickname: str, message: str) -> Message:
    """Store a message and trim the room to its newest HISTORY messages."""
    row = ChatMessage(room=room, user_id=user_id, nickname=nickname, message=message)
    with db.session() as s:
        s.add(row)
        s.commit()
        s.refresh(row)
        keep_from = s.exec(
            select(ChatMessage.id).where(ChatMessage.room == room).order_by(col(ChatMessage.id).desc()).offset(HISTORY - 1).limit(1)
        ).first()
        if keep_from is not None:
            s.exec(delete(ChatMessage).where(ChatMessage.room == room, ChatMessage.id < keep_from))
            s.commit()
    return _message(row)


def history(room: str, after_id: int | None = None) -> list[Message]:
    """The room's kept messages (after `after_id` if given), oldest first."""
    query = select(ChatMessage).where(ChatMessage.room == room)
    if after_id is not None:
        query = query.where(ChatMessage.id > after_id)
    with db.session() as s:
        rows = s.exec(query.order_by(col(ChatMessage.id).desc()).limit(HISTORY)).all()
    return [_message(r) for r in reversed(rows)]
