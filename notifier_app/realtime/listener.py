"""Turns the blog's domain events into notifications (who hears of what).

Notifications are stored in the blog write's own transaction (see bus.py) and published
when it commits; entity updates (live pages) are ephemeral and follow the commit.
"""

from __future__ import annotations

from sqlmodel import Session

from notifier_app.blog.events import CommentCreated, PostCreated
from notifier_app.bus import EventBus
from notifier_app.realtime import events
from notifier_app.realtime.messages import Message
from notifier_app.realtime.notifier import Notifier

FEED_CHANNEL = ("entity", "feed:posts")


def post_channel(post_id: int) -> tuple[str, str]:
    return ("entity", f"post:{post_id}")


def register(bus: EventBus, notifier: Notifier) -> None:
    def notify_post_created(s: Session, e: PostCreated) -> None:
        # Everyone but the author.
        event = events.post_created(
            post_id=e.post_id,
            title=e.title,
            author_id=e.author_id,
            author_nickname=e.author_nickname,
            created_at=e.created_at,
        )
        notifier.store(s, event, exclude_user_id=e.author_id)

    async def update_feed(e: PostCreated) -> None:
        await notifier.publish_message(
            Message.build(
                FEED_CHANNEL,
                events.entity_update(
                    entity_type="feed", entity_id="posts", action=events.POST_CREATED,
                    data={"postId": e.post_id, "authorId": str(e.author_id)},
                ),
            )
        )

    def notify_comment_created(s: Session, e: CommentCreated) -> None:
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
        notifier.store(s, event, user_id=e.post_author_id)

    async def update_post(e: CommentCreated) -> None:
        # Readers of the post see the comment appear.
        await notifier.publish_message(
            Message.build(
                post_channel(e.post_id),
                events.entity_update(
                    entity_type="post", entity_id=str(e.post_id), action=events.COMMENT_CREATED,
                    data={"commentId": e.comment_id, "authorId": str(e.author_id)},
                ),
            )
        )

    bus.subscribe_in_transaction(PostCreated, notify_post_created)
    bus.subscribe(PostCreated, update_feed)
    bus.subscribe_in_transaction(CommentCreated, notify_comment_created)
    bus.subscribe(CommentCreated, update_post)
