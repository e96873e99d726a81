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
