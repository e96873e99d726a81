"""Turns the blog's domain events into notifications (who hears of what)."""

from __future__ import annotations

from notifier_app.blog.events import CommentCreated, PostCreated
from notifier_app.bus import EventBus
from notifier_app.realtime import events
from notifier_app.realtime.messages import Message
from notifier_app.realtime.notifier import Notifier

FEED_CHANNEL = ("entity", "feed:posts")


def post_channel(post_id: int) -> tuple[str, str]:
    return ("entity", f"post:{post_id}")


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
        await notifier.publish_message(
            Message.build(
                FEED_CHANNEL,
                events.entity_update(
                    entity_type="feed", entity_id="posts", action=events.POST_CREATED,
                    data={"postId": e.post_id, "authorId": str(e.author_id)},
                ),
            )
        )

    async def on_comment_created(e: CommentCreated) -> None:
        # Readers of the post see the comment appear; its author gets a notification.
        await notifier.publish_message(
            Message.build(
                post_channel(e.post_id),
                events.entity_update(
                    entity_type="post", entity_id=str(e.post_id), action=events.COMMENT_CREATED,
                    data={"commentId": e.comment_id, "authorId": str(e.author_id)},
                ),
            )
        )
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
