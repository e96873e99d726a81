"""Database tables. The schema itself lives in alembic/versions; keep the two in step."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True, "nullable": False})
    nickname: str = Field(max_length=30)
    password_hash: str = Field(max_length=255)
    role: str = Field(default="user", max_length=16)  # "user" | "admin"
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class Post(SQLModel, table=True):
    __tablename__ = "posts"

    id: int | None = Field(default=None, primary_key=True)
    author_id: int = Field(foreign_key="users.id", index=True)
    title: str = Field(max_length=200)
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), index=True)


class Comment(SQLModel, table=True):
    __tablename__ = "comments"

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="posts.id", index=True)
    author_id: int = Field(foreign_key="users.id", index=True)
    content: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class Notification(SQLModel, table=True):
    """One published notification. `seq` is the SSE `id:` and only ever grows.

    `user_id` NULL means "for everyone" (a broadcast), minus `exclude_user_id` if set.
    """

    __tablename__ = "notifications"
    __table_args__ = {"sqlite_autoincrement": True}

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=36, sa_column_kwargs={"unique": True, "nullable": False})
    type: str = Field(max_length=64)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    exclude_user_id: int | None = Field(default=None, foreign_key="users.id")
    payload: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), index=True)


class NotificationRead(SQLModel, table=True):
    """Per-user read marks (a broadcast is read or unread separately for each user)."""

    __tablename__ = "notification_reads"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    seq: int = Field(sa_column_args=[sa.ForeignKey("notifications.seq", ondelete="CASCADE")], primary_key=True)
    read_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class ReadWatermark(SQLModel, table=True):
    """'Mark all read' for a user: everything with seq <= `seq` counts as read."""

    __tablename__ = "notification_read_watermarks"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    seq: int = Field(default=0)


class Meta(SQLModel, table=True):
    """Small key/value facts the app keeps about itself (e.g. how far history was pruned)."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=255)


class ChatMessage(SQLModel, table=True):
    """A chat room message; only the newest few per room are kept (for replay on join)."""

    __tablename__ = "chat_messages"
    __table_args__ = (sa.Index("ix_chat_messages_room", "room", "id"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    room: str = Field(max_length=64)
    user_id: int = Field(foreign_key="users.id")
    nickname: str = Field(max_length=30)
    message: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
