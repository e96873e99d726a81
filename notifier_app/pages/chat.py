"""/chat: a room list and a live room, all in Reflex state (no JavaScript of ours)."""

from __future__ import annotations

import asyncio

import reflex as rx
from pydantic import ValidationError

from notifier_app import texts
from notifier_app.api.routes.publishing import ChatIn
from notifier_app.components.layout import error_callout, page
from notifier_app.realtime import chat, notifier
from notifier_app.state.live import LiveState
from notifier_app.state.page_load import on_load
from notifier_app.state.session import SessionState

SHOWN = 100


class ChatState(LiveState):
    room: str = chat.DEFAULT_ROOMS[0]
    rooms: list[str] = list(chat.DEFAULT_ROOMS)
    messages: list[dict[str, str]] = []
    error: str = ""
    _me: str = ""

    def _requested_room(self) -> str:
        requested = self.router.url.query_parameters.get("room", "")
        return requested if chat.valid_name(requested) else chat.DEFAULT_ROOMS[0]

    @rx.event
    def load(self):
        self.room = self._requested_room()
        self.rooms = sorted(set(chat.DEFAULT_ROOMS) | {self.room}, key=lambda r: (r not in chat.DEFAULT_ROOMS, r))
        self.error = ""

    def _view(self, message) -> dict[str, str]:
        data = message.data
        return {
            "id": str(message.id),
            "author": data["author"]["nickname"],
            "message": data["message"],
            "time": data["createdAt"][11:16],
            "mine": "true" if data["author"]["id"] == self._me else "false",
        }

    def _show(self, batch) -> None:
        if batch is None:  # resubscribed after falling behind: the history comes next, afresh
            self.messages = []
            return
        self.messages = (self.messages + [self._view(m) for m in batch])[-SHOWN:]

    @rx.event(background=True)
    async def follow_room(self):
        # Background handlers start at once, not after load: read the URL and cookie here.
        async with self:
            room = self._requested_room()
            user_id = (await self.get_state(SessionState)).acting_user_id()
            self._me = str(user_id or "")
            self.messages = []
        if user_id is not None:
            await self.follow([chat.room_channel(room)], self._show, backlog=lambda: chat.backlog(room, None))

    @rx.event
    async def send(self, form: dict):
        session = await self.get_state(SessionState)
        user_id = session.acting_user_id()
        if user_id is None:
            self.error = texts.LOGIN_REQUIRED
            return
        try:
            data = ChatIn(roomId=self.room, message=str(form.get("message", "")))
        except ValidationError:
            self.error = texts.CHAT_INVALID
            return
        message = await asyncio.to_thread(chat.append, data.room_id, user_id, session.nickname, data.message)
        await notifier.publish_message(message)  # our own follower shows it, like everyone else's
        self.error = ""
        return rx.set_value("chat-input", "")

    @rx.event
    def join(self, form: dict):
        name = str(form.get("room", "")).strip()
        if not chat.valid_name(name):
            self.error = texts.ROOM_INVALID
            return
        return rx.redirect(f"/chat?room={name}")


def room_link(room: str) -> rx.Component:
    return rx.link(
        rx.text("# ", room, weight=rx.cond(room == ChatState.room, "bold", "regular")),
        href="/chat?room=" + room,
        class_name="room-link",
        underline="none",
    )


def bubble(message: dict) -> rx.Component:
    mine = message["mine"] == "true"
    return rx.hstack(
        rx.box(
            rx.hstack(
                rx.text(message["author"], size="1", weight="bold"),
                rx.text(message["time"], size="1", color_scheme="gray"),
                spacing="2",
            ),
            rx.text(message["message"], size="2", white_space="pre-wrap", class_name="chat-text"),
            padding="0.5rem 0.75rem",
            border_radius="12px",
            background=rx.cond(mine, "var(--accent-a4)", "var(--gray-a3)"),
            max_width="80%",
            class_name="chat-message",
        ),
        justify=rx.cond(mine, "end", "start"),
        width="100%",
    )


def chat_page() -> rx.Component:
    return page(
        rx.heading(texts.CHAT_TITLE, size="6"),
        rx.cond(
            SessionState.logged_in,
            rx.hstack(
                rx.vstack(
                    rx.foreach(ChatState.rooms, room_link),
                    rx.form(
                        rx.input(name="room", placeholder=texts.ROOM_PLACEHOLDER, size="1", id="room-input", max_length=64),
                        on_submit=ChatState.join,
                    ),
                    width="10rem",
                    spacing="2",
                    id="rooms",
                ),
                rx.vstack(
                    rx.heading("# ", ChatState.room, size="4", id="room-title"),
                    rx.scroll_area(
                        rx.vstack(rx.foreach(ChatState.messages, bubble), spacing="2", width="100%", id="chat-messages"),
                        type="auto",
                        scrollbars="vertical",
                        height="55vh",
                    ),
                    error_callout(ChatState.error),
                    rx.form(
                        rx.hstack(
                            rx.input(name="message", id="chat-input", placeholder=texts.CHAT_PLACEHOLDER, max_length=1000, width="100%"),
                            rx.button(texts.CHAT_SEND, type="submit", id="chat-send"),
                            width="100%",
                        ),
                        on_submit=ChatState.send,
                        width="100%",
                    ),
                    flex="1",
                    width="100%",
                ),
                align="start",
                spacing="5",
                width="100%",
            ),
            rx.link(texts.LOGIN_REQUIRED, href="/login?next=/chat"),
        ),
    )


ON_LOAD = on_load(ChatState.load, ChatState.follow_room)
