"""Domain events the blog emits inside the transaction of the write they describe."""

from __future__ import annotations

import dataclasses
from datetime import datetime


@dataclasses.dataclass(frozen=True, slots=True)
class PostCreated:
    post_id: int
    title: str
    author_id: int
    author_nickname: str
    created_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class CommentCreated:
    comment_id: int
    post_id: int
    post_author_id: int
    content: str
    author_id: int
    author_nickname: str
    created_at: datetime
