"""Chat rooms: messages are kept (the newest HISTORY per room) and replayed on join."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlmodel import col, delete, select

from notifier_app import db
from notifier_app.batching import BatchedReads
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


# Built once: a history read is every join's first step (bench/README.md, item 35).
_NEWEST = (
    sa.select(ChatMessage.id, ChatMessage.room, ChatMessage.user_id, ChatMessage.nickname, ChatMessage.message,
              ChatMessage.created_at)
    .where(ChatMessage.room == sa.bindparam("room"))
    .order_by(col(ChatMessage.id).desc())
    .limit(HISTORY)
)


def histories(rooms: list[str]) -> dict[str, list[Message]]:
    """Each room's kept messages, oldest first: one transaction for all the rooms."""
    with db.session() as s:
        conn = s.connection()
        return {room: [_message(r) for r in reversed(conn.execute(_NEWEST, {"room": room}).all())] for room in rooms}


def after(messages: list[Message], after_id: int | None) -> list[Message]:
    """The messages with an id above `after_id` (all of them for None). The newest
    HISTORY above it are the room's newest HISTORY filtered: what a join replays."""
    return messages if after_id is None else [m for m in messages if m.id > after_id]


# Streams joining at once read their rooms' history together, one read per room for the
# lot: a restart's reconnect storm comes back to a handful of rooms (batching.py).
_joins = BatchedReads(histories, name="notifier-chat-history-reads")


async def backlog(room: str, after_id: int | None) -> list[Message]:
    """What a stream joining `room` replays first (after Last-Event-ID `after_id`)."""
    return after(await _joins.get(room), after_id)
