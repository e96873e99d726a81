"""/notifications: the user's notification history, newest first, with read state."""

from __future__ import annotations

import asyncio

import reflex as rx

from notifier_app import texts
from notifier_app.components.layout import page
from notifier_app.realtime import log, notifier
from notifier_app.state.page_load import on_load
from notifier_app.state.session import SessionState

PAGE_SIZE = 20


def _view(item: dict) -> dict[str, str]:
    return {
        "seq": str(item["seq"]),
        "title": str(item.get("title", "")),
        "message": str(item.get("message", "")),
        "href": str(item.get("href", "/")),
        "created": str(item.get("createdAt", ""))[:16].replace("T", " "),
        "read": "true" if item["read"] else "false",
    }


class InboxState(rx.State):
    items: list[dict[str, str]] = []
    has_more: bool = False

    async def _user_id(self) -> int | None:
        return (await self.get_state(SessionState)).acting_user_id()

    async def _fetch(self, before: int | None) -> tuple[list[dict[str, str]], int] | None:
        user_id = await self._user_id()
        if user_id is None:
            return None
        items, unread = await asyncio.to_thread(log.inbox, user_id, limit=PAGE_SIZE, before=before)
        return [_view(i) for i in items], unread

    @rx.event
    async def load(self):
        result = await self._fetch(None)
        self.items, _unread = result if result else ([], 0)
        self.has_more = len(self.items) == PAGE_SIZE

    @rx.event
    async def load_older(self):
        if not self.items:
            return
        result = await self._fetch(int(self.items[-1]["seq"]))
        if result:
            older, _unread = result
            self.items = self.items + older
            self.has_more = len(older) == PAGE_SIZE

    @rx.event
    async def mark_read(self, seq: str):
        user_id = await self._user_id()
        if user_id is None or not seq.isdigit():
            return
        await asyncio.to_thread(log.mark_read, user_id, int(seq))
        self.items = [{**i, "read": "true"} if i["seq"] == seq else i for i in self.items]
        # The badge, in every tab and on every worker (state/tabs.py recounts it).
        await notifier.reads_changed(user_id)

    @rx.event
    async def mark_all_read(self):
        user_id = await self._user_id()
        if user_id is None:
            return
        await asyncio.to_thread(log.mark_all_read, user_id)
        self.items = [{**i, "read": "true"} for i in self.items]
        await notifier.reads_changed(user_id)


def inbox_item(item: dict) -> rx.Component:
    unread = item["read"] == "false"
    return rx.card(
        rx.hstack(
            rx.box(
                width="0.5rem", height="0.5rem", border_radius="50%", flex_shrink="0", margin_top="0.45rem",
                background=rx.cond(unread, "var(--accent-9)", "transparent"),
            ),
            rx.vstack(
                rx.link(
                    rx.text(item["title"], weight=rx.cond(unread, "bold", "regular"), size="2"),
                    rx.text(item["message"], size="2", color_scheme="gray"),
                    href=item["href"],
                    underline="none",
                    color="inherit",
                ),
                rx.text(item["created"], size="1", color_scheme="gray"),
                spacing="1",
                align="start",
                flex="1",
            ),
            rx.cond(
                unread,
                rx.button(texts.MARK_READ, size="1", variant="soft", on_click=InboxState.mark_read(item["seq"]), class_name="mark-read"),
            ),
            spacing="3",
            align="start",
            width="100%",
        ),
        class_name="inbox-item",
        data_read=item["read"],
        width="100%",
    )


def inbox_page() -> rx.Component:
    return page(
        rx.hstack(
            rx.heading(texts.INBOX_TITLE, size="6"),
            rx.spacer(),
            rx.button(texts.MARK_ALL_READ, variant="outline", size="2", on_click=InboxState.mark_all_read, id="mark-all-read"),
            width="100%",
            align="center",
        ),
        rx.cond(
            InboxState.items.length() > 0,
            rx.vstack(rx.foreach(InboxState.items, inbox_item), spacing="2", width="100%", id="inbox"),
            rx.text(texts.INBOX_EMPTY, color_scheme="gray"),
        ),
        rx.cond(InboxState.has_more, rx.button(texts.OLDER, variant="ghost", on_click=InboxState.load_older, id="inbox-older")),
    )


ON_LOAD = on_load(InboxState.load)
