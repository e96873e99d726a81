"""Turns the blog's domain events into notifications (who hears of what)."""

from __future__ import annotations

from notifier_app.blog.events import CommentCreated, PostCreated
from notifier_app.bus import EventBus
from notifier_app.realtime import events
from notifier_app.realtime.notifier import Notifier


def register(bus: EventBus, notifier: Notifier) -> None:
    async def on_post_created(e: PostCreated) -> None:
        # Everyone but the author.
        event = events.post_created(
            post_id=e.post_id,
            title=e.title,
            author_id=e.author_id,
            author_nickname=e.author_nickname,
            created_at=e.created_at,
        )
        await notifier.publish(event, exclude_user_id=e.author_id)

    async def on_comment_created(e: CommentCreated) -> None:
        # The post's author only, and nobody when they commented on their own post.
        if e.author_id == e.post_author_id:
            return
        event = events.comment_created(
            post_id=e.post_id,
            comment_id=e.comment_id,
            content=e.content,
            author_id=e.author_id,
            author_nickname=e.author_nickname,
            created_at=e.created_at,
        )
        await notifier.publish(event, user_id=e.post_author_id)

    bus.subscribe(PostCreated, on_post_created)
    bus.subscribe(CommentCreated, on_comment_created)
