"""Notifications in the browser, as Reflex state: the store, and the stream that feeds it.

`NotificationStore` is the port of the original's Zustand store: the toasts on screen
and the unread count; `NotificationStream` is the port of its `useNotificationStream`
hook. The hook opened an EventSource; here the stream hands its tab to this worker's
`TabHub` (state/tabs.py), which follows the user's notifications through one in-process
subscription for all of the user's tabs, with the same replay-then-live guarantee as the
SSE endpoint, and sends each tab its store's new values.

Life of a tab's stream: `run` is the last step of every page's on_load chain and parks
until Reflex cancels that chain (the tab disconnected or loaded another page); leaving,
it detaches the tab. The cursor (`last_seq`) lives in the browser's sessionStorage, so a
tab reconnecting after a restart replays what it missed.
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from notifier_app.auth.accounts import accounts
from notifier_app.auth.security import InvalidToken, token_from_cookie_header, verify_token
from notifier_app.config import settings
from notifier_app.realtime import notifier, registry
from notifier_app.state.tabs import TabHub

logger = logging.getLogger("notifier.browser")

CONNECTED = "connected"
RECONNECTING = "reconnecting"
OFFLINE = "offline"

tabs = TabHub(registry, toast_seconds=lambda: settings().toast_seconds)


class NotificationStore(rx.State):
    """Toasts on screen: newest first, at most 10, no id twice; plus the unread count.

    Its vars are kept by `tabs` (state/tabs.py) and sent from there: no handler here
    assigns them but `clear` (logged out).
    """

    items: list[dict[str, str]] = []
    unread_count: int = 0

    def clear(self) -> None:
        self.items = []
        self.unread_count = 0

    @rx.event
    def dismiss(self, item_id: str):
        """Closed in this tab only: the user's other tabs keep theirs until they expire
        (each tab is its own window on the page; the inbox is where reading is shared)."""
        tabs.dismiss(self.router.session.client_token, item_id)


class NotificationStream(rx.State):
    status: str = OFFLINE
    # The browser keeps the cursor (per tab), so a resume survives a backend restart.
    last_seq: str = rx.SessionStorage("", name="notifier_last_seq")

    @rx.event(background=True)
    async def run(self):
        user_id, expires_at = self._credentials()
        # The account lookup behind every page load (remembered a few seconds, read in
        # batches: auth/accounts.py); a deleted account is logged out.
        if user_id is not None and await accounts.get(user_id) is None:
            user_id = None
        async with self:
            if user_id is None:
                (await self.get_state(NotificationStore)).clear()
                self.status = OFFLINE
                self.last_seq = ""
                return
            resume_from = int(self.last_seq) if self.last_seq.isdigit() else None
            self.status = CONNECTED
        session = self.router.session
        tab = await tabs.attach(
            session.client_token, session.session_id, user_id, expires_at, resume_from,
            notifier.dispatcher.delivered_through,
        )
        try:
            reason = await tab.done
        finally:
            tabs.detach(tab)
        if reason == "expired":
            async with self:
                self.status = OFFLINE

    def _credentials(self) -> tuple[int | None, float]:
        try:
            return verify_token(token_from_cookie_header(self.router.headers.cookie))
        except InvalidToken:
            return None, 0.0


def serve_tabs(app: rx.App) -> None:
    """Let `tabs` send the app's tabs their NotificationStore and cursor."""
    tabs.bind(app, NotificationStore.get_full_name(), NotificationStream.get_full_name())
