"""What goes in and out of the blog: validated inputs and public views (never a password hash)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_serializer, field_validator

def no_nul(value: str) -> str:
    """PostgreSQL cannot store NUL in text (and no person types one)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = AfterValidator(no_nul)
Nickname = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30), NoNul]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256), NoNul]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul]
Body = Annotated[str, StringConstraints(max_length=20_000), NoNul]
CommentText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000), NoNul]


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a Z, milliseconds precision (SQLite drops the zone: it is UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL cannot store or even compare text with NUL in it; no real input has one.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class SignupIn(_Input):
    email: EmailStr = Field(max_length=320)
    nickname: Nickname
    password: Password


class LoginIn(_Input):
    email: Annotated[str, Field(min_length=1, max_length=320), NoNul]
    password: Annotated[str, Field(min_length=1, max_length=256), NoNul]


class PostIn(_Input):
    title: Title
    body: Body = ""


class CommentIn(_Input):
    content: CommentText


class _Output(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class UserPublic(_Output):
    id: int
    email: str
    nickname: str
    role: str = "user"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class AuthorPublic(_Output):
    id: int
    nickname: str


class CommentPublic(_Output):
    id: int
    content: str
    author: AuthorPublic
    created_at: datetime = Field(alias="createdAt")

    @field_serializer("created_at")
    def _ser_created(self, value: datetime) -> str:
        return iso_utc(value)


class PostPublic(_Output):
    id: int
    title: str
    body: str
    author: AuthorPublic
    created_at: datetime = Field(alias="createdAt")
    comment_count: int = Field(alias="commentCount")

    @field_serializer("created_at")
    def _ser_created(self, value: datetime) -> str:
        return iso_utc(value)


class PostDetail(PostPublic):
    comments: list[CommentPublic]


class PostPage(_Output):
    items: list[PostPublic]
    total: int
