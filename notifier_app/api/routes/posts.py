"""Posts and comments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from notifier_app.api.deps import CurrentUser
from notifier_app.blog import services
from notifier_app.blog.schemas import CommentIn, CommentPublic, PostDetail, PostIn, PostPage, PostPublic

router = APIRouter(prefix="/api/posts")

PostId = Annotated[int, Path(ge=1, le=2**31 - 1, description="post id")]


@router.get("", response_model=PostPage)
def list_posts(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> PostPage:
    return services.list_posts(limit=limit, offset=offset)


@router.post("", status_code=201, response_model=PostPublic)
def create_post(data: PostIn, user: CurrentUser) -> PostPublic:
    return services.create_post(user.id, data)


@router.get("/{post_id}", response_model=PostDetail)
def get_post(post_id: PostId) -> PostDetail:
    try:
        return services.get_post(post_id)
    except services.NotFound:
        raise HTTPException(404, f"Post {post_id} not found") from None


@router.post("/{post_id}/comments", status_code=201, response_model=CommentPublic)
def create_comment(post_id: PostId, data: CommentIn, user: CurrentUser) -> CommentPublic:
    try:
        return services.create_comment(user.id, post_id, data)
    except services.NotFound:
        raise HTTPException(404, f"Post {post_id} not found") from None
