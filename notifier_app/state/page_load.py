"""Every page's on_load chain: who is here, the page's own loading, then the stream."""

from __future__ import annotations

from notifier_app.state.notifications import NotificationStream
from notifier_app.state.session import SessionState


def on_load(*handlers) -> list:
    # The stream task goes last: it runs for as long as the page is open.
    return [SessionState.load_session, *handlers, NotificationStream.run]
