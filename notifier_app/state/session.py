"""Who is logged in, from the HttpOnly `access_token` cookie of the websocket handshake.

The token never enters state (state is sent to the browser); only the user id, in a
backend-only var. Handlers that act as the user call `acting_user_id()`, which checks
the token again. Logging in or out is a full page navigation (the handshake cookie is
fixed for the life of the socket), done by native form posts to /auth/*.
"""

from __future__ import annotations

import reflex as rx

from notifier_app.auth.accounts import accounts
from notifier_app.auth.security import InvalidToken, decode_token, token_from_cookie_header


def cookie_user_id(router) -> int | None:
    """The user id in the tab's handshake cookie if its token is valid now, else None
    (any state's `self.router`; background tasks read it without the state lock)."""
    try:
        return decode_token(token_from_cookie_header(router.headers.cookie))
    except InvalidToken:
        return None


class SessionState(rx.State):
    nickname: str = ""
    logged_in: bool = False
    is_admin: bool = False
    _user_id: int | None = None

    def acting_user_id(self) -> int | None:
        """The user id in a currently valid cookie token, or None."""
        return cookie_user_id(self.router)

    @rx.event
    async def load_session(self):
        # Every page load, and every open tab again when it reconnects after a restart:
        # the account lookup behind API requests (remembered a few seconds, read in batches
        # off the event loop: auth/accounts.py).
        user_id = self.acting_user_id()
        user = await accounts.get(user_id) if user_id is not None else None
        self._user_id = user.id if user else None
        self.nickname = user.nickname if user else ""
        self.logged_in = user is not None
        self.is_admin = bool(user and user.is_admin)
