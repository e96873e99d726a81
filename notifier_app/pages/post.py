"""One post with its comments and a comment form."""

from __future__ import annotations

import asyncio

import reflex as rx
from pydantic import ValidationError

from notifier_app import texts
from notifier_app.batching import BatchedReads
from notifier_app.blog import services
from notifier_app.blog.schemas import CommentIn, PostDetail
from notifier_app.components.layout import error_callout, page
from notifier_app.pages.views import comment_view, post_view
from notifier_app.realtime.listener import post_channel
from notifier_app.state.live import LiveState
from notifier_app.state.page_load import on_load
from notifier_app.state.session import SessionState


def _read_posts(post_ids: list[int]) -> dict[int, PostDetail]:
    found = {}
    for post_id in post_ids:
        try:
            found[post_id] = services.get_post(post_id)
        except services.NotFound:
            pass
    return found


# A comment reaches every tab that shows its post: they re-read the post together, once.
_posts = BatchedReads(_read_posts, name="notifier-post-page-reads")


class PostState(LiveState):
    post: dict[str, str] = {}
    # The comments as the page first showed them, and those that came after. Reflex sends
    # a var that was assigned whole, to every tab that shows the post, and the browser
    # re-renders all of it: a new comment changes only `newer_comments`.
    comments: list[dict[str, str]] = []
    newer_comments: list[dict[str, str]] = []
    found: bool = True
    error: str = ""
    _post_id: int | None = None
    _first_ids: list[str] = []  # of `comments`

    def _requested_id(self) -> int | None:
        # /posts/<id>: read from the URL, so the background follower needs nothing from load.
        raw = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**31 else None

    async def _refresh(self, post_id: int | None) -> None:
        self._show(post_id, await _posts.get(post_id) if post_id else None)

    def _show(self, post_id: int | None, detail: PostDetail | None) -> None:
        """Show the post, assigning only what changed (each assignment is sent)."""
        same_post = detail is not None and post_id == self._post_id
        self._post_id = post_id if detail else None
        if self.found != (detail is not None):
            self.found = detail is not None
        post = post_view(detail) if detail else {}
        post.pop("comments", None)  # a count that changes with every comment: the page counts the lists
        if post != self.post:
            self.post = post
        views = [comment_view(c) for c in detail.comments] if detail else []
        kept = len(self._first_ids)
        if same_post and [view["id"] for view in views[:kept]] == self._first_ids:
            newer = views[kept:]
            if newer != self.newer_comments:
                self.newer_comments = newer
        else:
            self.comments, self.newer_comments = views, []
            self._first_ids = [view["id"] for view in views]

    @rx.event
    async def load(self):
        self.error = ""
        await self._refresh(self._requested_id())
        # The comments render after load, too late for the browser's own #comment-<id>
        # jump (toasts link there): scroll once they are in.
        fragment = self.router.url.fragment
        if fragment.startswith("comment-") and fragment[len("comment-"):].isdigit():
            return rx.scroll_to(fragment)

    @rx.event(background=True)
    async def follow_comments(self):
        """Someone else's comment shows up (with the count) without a reload."""
        # Background handlers start at once, not after load: read the URL here.
        async with self:
            post_id = self._requested_id()
        if post_id is None:
            return
        await self.follow(
            [post_channel(post_id)],
            lambda detail: self._show(post_id, detail),
            fetch=lambda _batch: _posts.get(post_id),  # outside the state lock, once for every tab
        )

    @rx.event
    async def add_comment(self, form: dict):
        session = await self.get_state(SessionState)
        user_id = session.acting_user_id()
        if user_id is None:
            self.error = texts.COMMENT_LOGIN_REQUIRED
            return
        if self._post_id is None:
            return
        try:
            data = CommentIn(content=str(form.get("content", "")))
            await asyncio.to_thread(services.create_comment, user_id, self._post_id, data)
        except ValidationError:
            self.error = texts.COMMENT_INVALID
            return
        except services.NotFound:
            self.error = texts.POST_NOT_FOUND
            return
        self.error = ""
        await self._refresh(self._post_id)
        return rx.set_value("comment-content", "")


def comment_item(comment: dict) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.text(comment["author"], weight="bold", size="2"),
            rx.text(comment["created"], size="1", color_scheme="gray"),
            spacing="3",
            align="center",
        ),
        rx.text(comment["content"], size="2", white_space="pre-wrap", class_name="comment-content"),
        id=comment["anchor"],
        class_name="comment",
        padding="0.75rem",
        border_radius="var(--radius-3)",
        background="var(--gray-a2)",
        width="100%",
        style={"scroll_margin_top": "4.5rem"},
    )


def comment_form() -> rx.Component:
    return rx.cond(
        SessionState.logged_in,
        rx.form(
            rx.vstack(
                rx.text_area(
                    name="content", id="comment-content", placeholder=texts.COMMENT_PLACEHOLDER,
                    max_length=2000, required=True, width="100%",
                ),
                rx.button(texts.COMMENT_SUBMIT, type="submit", id="comment-submit"),
                align="end",
                width="100%",
            ),
            on_submit=PostState.add_comment,
            width="100%",
        ),
        rx.link(texts.COMMENT_LOGIN_REQUIRED, href="/login"),
    )


def post_page() -> rx.Component:
    comment_count = PostState.comments.length() + PostState.newer_comments.length()
    return page(
        rx.cond(
            PostState.found,
            rx.vstack(
                rx.heading(PostState.post["title"], size="7", id="post-title"),
                rx.hstack(
                    rx.text(PostState.post["author"], weight="medium", size="2"),
                    rx.text(PostState.post["created"], size="2", color_scheme="gray"),
                    spacing="3",
                ),
                rx.text(PostState.post["body"], white_space="pre-wrap", id="post-body"),
                rx.divider(),
                rx.heading(texts.COMMENTS, " ", comment_count.to_string(), size="4", id="comment-count"),
                rx.cond(
                    comment_count > 0,
                    rx.vstack(
                        rx.foreach(PostState.comments, comment_item),
                        rx.foreach(PostState.newer_comments, comment_item),
                        spacing="2",
                        width="100%",
                        id="comments",
                    ),
                    rx.text(texts.NO_COMMENTS, color_scheme="gray", size="2"),
                ),
                error_callout(PostState.error),
                comment_form(),
                spacing="3",
                width="100%",
                align="start",
            ),
            rx.text(texts.POST_NOT_FOUND, id="post-not-found"),
        ),
    )


ON_LOAD = on_load(PostState.load, PostState.follow_comments)
