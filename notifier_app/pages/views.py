"""Plain-string views of blog objects for page states (Reflex vars render strings simply)."""

from __future__ import annotations

from notifier_app.blog.schemas import CommentPublic, PostPublic


def when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def post_view(post: PostPublic) -> dict[str, str]:
    return {
        "id": str(post.id),
        "title": post.title,
        "body": post.body,
        "author": post.author.nickname,
        "created": when(post.created_at),
        "comments": str(post.comment_count),
        "href": f"/posts/{post.id}",
    }


def comment_view(comment: CommentPublic) -> dict[str, str]:
    return {
        "id": str(comment.id),
        "anchor": f"comment-{comment.id}",
        "content": comment.content,
        "author": comment.author.nickname,
        "created": when(comment.created_at),
    }
