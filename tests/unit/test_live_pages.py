"""A live page's follow loop (state/live.py) on a real page state, in process: the chat
page after its subscription was dropped for falling behind."""

from __future__ import annotations

import asyncio
import time

import pytest
import reflex as rx

from notifier_app.realtime import chat, registry
from notifier_app.state.live import LiveState
from tests.unit.conftest import run


@pytest.fixture
def chat_state():
    import notifier_app.notifier_app  # noqa: F401  (registers the app's states)
    from notifier_app.pages.chat import ChatState

    root = rx.State(_reflex_internal_init=True)
    return root.get_substate(ChatState.get_full_name().split(".")[1:])


async def until(condition, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def test_a_chat_page_that_fell_behind_shows_the_history_again_once(users, chat_state, monkeypatch):
    monkeypatch.setattr(registry, "default_maxsize", 2)
    room = "behind"
    channel = chat.room_channel(room)
    sent = [chat.append(room, users["alice"], "앨리스", f"m{i}") for i in range(3)]

    def ids() -> list[str]:
        return [m["id"] for m in chat_state.messages]

    async def scenario():
        follow = LiveState.follow.fn  # (Reflex wraps a state's public methods as event handlers)
        following = follow(chat_state, [channel], chat_state._show, backlog=lambda: chat.backlog(room, None))
        task = asyncio.create_task(following)
        try:
            await until(lambda: ids() == [str(m.id) for m in sent], "the history")
            # Three messages at once overflow the page's subscription (it holds two).
            more = [chat.append(room, users["bob"], "밥", f"n{i}") for i in range(3)]
            dropped = registry.dropped
            for message in more:
                registry.publish(channel, message)
            assert registry.dropped == dropped + 1, "the page's subscription was not dropped"
            # It comes back (after a second) with the room's history: each message once.
            everything = [str(m.id) for m in sent + more]
            await until(lambda: ids() == everything, "the history after resubscribing", timeout=10)
            await asyncio.sleep(0.2)
            assert ids() == everything
        finally:
            task.cancel()

    run(scenario(), timeout=20)


@pytest.fixture
def post_state():
    import notifier_app.notifier_app  # noqa: F401  (registers the app's states)
    from notifier_app.pages.post import PostState

    root = rx.State(_reflex_internal_init=True)
    return root.get_substate(PostState.get_full_name().split(".")[1:])


def test_a_new_comment_changes_only_the_newer_comments_on_a_post_page(users, post_state):
    """What a tab is sent when a comment arrives: the comments since the page showed the
    post, not every comment again (nor the post)."""
    from notifier_app.blog import services
    from notifier_app.blog.schemas import CommentIn, PostIn

    alice, bob = users["alice"], users["bob"]
    post = services.create_post(alice, PostIn(title="글", body="본문"))
    first = [services.create_comment(bob, post.id, CommentIn(content=f"c{i}")).id for i in range(3)]

    def ids(var: str) -> list[int]:
        return [int(c["id"]) for c in getattr(post_state, var)]

    def sent() -> set[str]:  # the vars a delta carries (backend vars stay on the server)
        return {name for name in post_state.dirty_vars if not name.startswith("_")}

    post_state._show(post.id, services.get_post(post.id))
    assert (ids("comments"), ids("newer_comments")) == (first, [])
    assert post_state.post["title"] == "글" and post_state.found

    for n in (1, 2):
        post_state.dirty_vars.clear()
        newer = [services.create_comment(alice, post.id, CommentIn(content=f"n{i}")).id for i in range(n)]
        post_state._show(post.id, services.get_post(post.id))
        assert sent() == {"newer_comments"}, "a comment resent more than the new ones"
    assert ids("comments") == first and len(ids("newer_comments")) == 3 and ids("newer_comments")[-2:] == newer

    post_state.dirty_vars.clear()
    post_state._show(post.id, services.get_post(post.id))  # nothing new (another tab's comment, read twice)
    assert sent() == set()

    other = services.create_post(bob, PostIn(title="다른 글"))
    post_state._show(other.id, services.get_post(other.id))  # another post: shown afresh
    assert (ids("comments"), ids("newer_comments")) == ([], []) and post_state.post["title"] == "다른 글"
