"""The page frame: navbar on top, content below."""

from __future__ import annotations

import reflex as rx
from reflex.config import get_config

from notifier_app import texts
from notifier_app.components.native_form import native_form
from notifier_app.components.notifications import bell, connection_dot, toaster
from notifier_app.state.session import SessionState


def backend_url(path: str) -> str:
    """Absolute URL of a backend route (in dev the backend has its own port)."""
    return get_config().api_url.rstrip("/") + path


def logout_button() -> rx.Component:
    # A native form post: only the server can clear an HttpOnly cookie.
    return native_form(
        rx.button(texts.NAV_LOGOUT, type="submit", variant="soft", size="2", id="logout"),
        action=backend_url("/auth/logout"),
        method="post",
    )


def navbar() -> rx.Component:
    return rx.hstack(
        rx.link(rx.heading(texts.APP_NAME, size="5"), href="/", underline="none"),
        rx.spacer(),
        rx.cond(
            SessionState.logged_in,
            rx.hstack(
                connection_dot(),
                bell(),
                rx.link(texts.NAV_CHAT, href="/chat", id="nav-chat"),
                rx.cond(SessionState.is_admin, rx.link(texts.NAV_SYSTEM, href="/system", id="nav-system")),
                rx.link(texts.NAV_WRITE, href="/posts/new", id="nav-write"),
                rx.text(SessionState.nickname, weight="bold", id="nav-nickname"),
                logout_button(),
                align="center",
                spacing="4",
            ),
            rx.hstack(
                rx.link(texts.NAV_LOGIN, href="/login", id="nav-login"),
                rx.link(texts.NAV_SIGNUP, href="/signup", id="nav-signup"),
                spacing="4",
            ),
        ),
        align="center",
        width="100%",
        padding_y="0.75rem",
        padding_x="1.25rem",
        border_bottom="1px solid var(--gray-a5)",
        position="sticky",
        top="0",
        background="var(--color-background)",
        z_index="10",
    )


def page(*children: rx.Component) -> rx.Component:
    return rx.box(
        navbar(),
        rx.container(rx.vstack(*children, spacing="4", width="100%"), size="2", padding_y="1.5rem"),
        toaster(),
        min_height="100vh",
    )


def field(label: str, *control: rx.Component) -> rx.Component:
    return rx.vstack(rx.text(label, size="2", weight="medium"), *control, spacing="1", width="100%")


def error_callout(message) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle_alert", color_scheme="red", role="alert", width="100%"),
    )
