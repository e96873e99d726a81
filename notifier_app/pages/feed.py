"""The feed: posts, newest first, paginated."""

from __future__ import annotations

import reflex as rx

from notifier_app import texts
from notifier_app.batching import BatchedReads
from notifier_app.blog import services
from notifier_app.components.layout import page
from notifier_app.pages.views import post_view
from notifier_app.realtime.listener import FEED_CHANNEL
from notifier_app.state.notifications import tabs
from notifier_app.state.page_load import on_load
from notifier_app.state.session import cookie_user_id

PAGE_SIZE = 10
NEW_POSTS = "feed.new_posts"


def _read_pages(numbers: list[int]) -> dict[int, services.PostPage]:
    return {n: services.list_posts(limit=PAGE_SIZE, offset=(n - 1) * PAGE_SIZE) for n in numbers}


# Tabs opening the feed together (a storm of them after a restart, or a busy hour) read
# each page once per batch, not once per tab: every tab on page 1 wants the same rows.
_pages = BatchedReads(_read_pages, name="notifier-feed-pages")


class FeedState(rx.State):
    posts: list[dict[str, str]] = []
    page_number: int = 1
    page_count: int = 1
    new_posts: int = 0

    @rx.event
    async def load(self):
        raw = self.router.url.query_parameters.get("page", "1")
        number = int(raw) if isinstance(raw, str) and raw.isdigit() and 0 < int(raw) < 100_000 else 1
        result = await _pages.get(number)
        self.page_number = number
        self.page_count = max(1, -(-result.total // PAGE_SIZE))
        self.posts = [post_view(p) for p in result.items]
        self.new_posts = 0
        tabs.reset_count(self.router.session.client_token, NEW_POSTS)

    @rx.event(background=True)
    async def follow_posts(self):
        """Count posts by others since the feed was loaded, for the "new posts" bar.

        Counted for every open feed by the tab hub (state/tabs.py), which sends the count
        itself; this task only lasts as long as the page (Reflex cancels it with the load
        chain) and ends the count when it goes."""
        # Background handlers start at once, not after load_session: read the cookie here.
        me = str(cookie_user_id(self.router))
        session = self.router.session

        def by_others(message) -> int:
            return 1 if str(message.data.get("data", {}).get("authorId")) != me else 0

        counter = tabs.count(
            session.client_token, session.session_id, NEW_POSTS, FEED_CHANNEL,
            FeedState.get_full_name(), "new_posts", by_others,
        )
        try:
            await counter.done
        finally:
            tabs.uncount(counter)

    @rx.event
    def show_new_posts(self):
        return rx.redirect("/") if self.page_number != 1 else FeedState.load


def post_card(post: dict) -> rx.Component:
    return rx.card(
        rx.link(
            rx.vstack(
                rx.heading(post["title"], size="4", class_name="post-title"),
                rx.text(post["body"], size="2", color_scheme="gray", trim="both", class_name="post-excerpt",
                        style={"display": "-webkit-box", "-webkit-line-clamp": "2", "-webkit-box-orient": "vertical", "overflow": "hidden"}),
                rx.hstack(
                    rx.text(post["author"], size="1", weight="medium"),
                    rx.text(post["created"], size="1", color_scheme="gray"),
                    rx.text(f"{texts.COMMENTS} ", post["comments"], size="1", color_scheme="gray"),
                    spacing="3",
                ),
                spacing="2",
                align="start",
            ),
            href=post["href"],
            underline="none",
            color="inherit",
        ),
        width="100%",
        class_name="post-card",
    )


def pager() -> rx.Component:
    return rx.hstack(
        rx.cond(
            FeedState.page_number > 1,
            rx.link(texts.PREV_PAGE, href="/?page=" + (FeedState.page_number - 1).to_string()),
        ),
        rx.text(FeedState.page_number.to_string() + " / " + FeedState.page_count.to_string(), size="2"),
        rx.cond(
            FeedState.page_number < FeedState.page_count,
            rx.link(texts.NEXT_PAGE, href="/?page=" + (FeedState.page_number + 1).to_string()),
        ),
        spacing="4",
        justify="center",
        width="100%",
    )


def new_posts_bar() -> rx.Component:
    return rx.cond(
        FeedState.new_posts > 0,
        rx.button(
            rx.icon("arrow-up", size=14),
            texts.NEW_POSTS_PREFIX,
            FeedState.new_posts.to_string(),
            texts.NEW_POSTS_SUFFIX,
            on_click=FeedState.show_new_posts,
            id="new-posts-bar",
            variant="soft",
            radius="full",
            width="100%",
        ),
    )


def feed_page() -> rx.Component:
    return page(
        rx.heading(texts.FEED_TITLE, size="6"),
        new_posts_bar(),
        rx.cond(
            FeedState.posts.length() > 0,
            rx.vstack(rx.foreach(FeedState.posts, post_card), spacing="3", width="100%", id="feed"),
            rx.text(texts.FEED_EMPTY, color_scheme="gray"),
        ),
        pager(),
    )


ON_LOAD = on_load(FeedState.load, FeedState.follow_posts)
