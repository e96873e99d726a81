"""Posts and comments.

The endpoints are async and run their (synchronous, database) service in the thread pool
themselves: for a plain `def` endpoint FastAPI also validates the response model in a
worker thread, a second hop per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from starlette.concurrency import run_in_threadpool

from notifier_app.api.deps import CurrentUser
from notifier_app.blog import services
from notifier_app.blog.schemas import CommentIn, CommentPublic, PostDetail, PostIn, PostPage, PostPublic

router = APIRouter(prefix="/api/posts")

PostId = Annotated[int, Path(ge=1, le=2**31 - 1, description="post id")]


@router.get("", response_model=PostPage)
async def list_posts(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> PostPage:
    return await run_in_threadpool(services.list_posts, limit=limit, offset=offset)


@router.post("", status_code=201, response_model=PostPublic)
async def create_post(data: PostIn, user: CurrentUser) -> PostPublic:
    return await run_in_threadpool(services.create_post, user.id, data)


@router.get("/{post_id}", response_model=PostDetail)
async def get_post(post_id: PostId) -> PostDetail:
    try:
        return await run_in_threadpool(services.get_post, post_id)
    except services.NotFound:
        raise HTTPException(404, f"Post {post_id} not found") from None


@router.post("/{post_id}/comments", status_code=201, response_model=CommentPublic)
async def create_comment(post_id: PostId, data: CommentIn, user: CurrentUser) -> CommentPublic:
    try:
        return await run_in_threadpool(services.create_comment, user.id, post_id, data)
    except services.UnknownAuthor:
        raise  # the caller's account is gone: 401 (api/faults.py)
    except services.NotFound:
        raise HTTPException(404, f"Post {post_id} not found") from None
