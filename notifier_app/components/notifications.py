"""Toaster, connection dot and bell: the visible side of the notification states."""

from __future__ import annotations

import reflex as rx
from reflex_components_core.core.banner import has_connection_errors

from notifier_app import texts
from notifier_app.state.notifications import CONNECTED, RECONNECTING, NotificationStore, NotificationStream

LEVEL_ACCENT = {"info": "var(--indigo-9)", "success": "var(--green-9)", "warning": "var(--amber-9)", "error": "var(--red-9)"}


def toast(item: dict) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.vstack(
                rx.text(item["title"], weight="bold", size="2", class_name="toast-title"),
                rx.text(item["message"], size="2", class_name="toast-message"),
                rx.link(texts.TOAST_GO, href=item["href"], size="2", weight="medium", class_name="toast-link"),
                spacing="1",
                align="start",
                flex="1",
                min_width="0",
            ),
            rx.icon_button(
                rx.icon("x", size=14),
                variant="ghost",
                size="1",
                color_scheme="gray",
                aria_label=texts.TOAST_CLOSE,
                on_click=NotificationStore.dismiss(item["id"]),
                class_name="toast-close",
            ),
            align="start",
            spacing="3",
            width="100%",
        ),
        class_name="notifier-toast",
        data_type=item["type"],
        data_level=item["level"],
        padding="0.85rem 1rem",
        border_radius="14px",
        background="rgba(255, 255, 255, 0.72)",
        border="1px solid rgba(255, 255, 255, 0.6)",
        border_left=rx.match(
            item["level"],
            *[(level, f"4px solid {color}") for level, color in LEVEL_ACCENT.items()],
            f"4px solid {LEVEL_ACCENT['info']}",
        ),
        box_shadow="0 10px 30px rgba(15, 23, 42, 0.14), 0 2px 6px rgba(15, 23, 42, 0.08)",
        backdrop_filter="blur(14px) saturate(160%)",
        width="22rem",
        max_width="calc(100vw - 2rem)",
        pointer_events="auto",
    )


def toaster() -> rx.Component:
    """Fixed at the top right, newest on top; a polite live region for screen readers."""
    return rx.vstack(
        rx.foreach(NotificationStore.items, toast),
        id="toaster",
        role="status",
        aria_live="polite",
        aria_atomic="false",
        position="fixed",
        top="4.25rem",
        right="1rem",
        spacing="2",
        z_index="1000",
        pointer_events="none",
    )


def connection_dot() -> rx.Component:
    state = rx.cond(has_connection_errors, RECONNECTING, NotificationStream.status)
    label = rx.match(state, (CONNECTED, texts.CONNECTED), (RECONNECTING, texts.RECONNECTING), texts.OFFLINE)
    return rx.tooltip(
        rx.box(
            id="connection-dot",
            data_status=state,
            aria_label=label,
            role="img",
            width="0.6rem",
            height="0.6rem",
            border_radius="50%",
            background=rx.match(state, (CONNECTED, "var(--green-9)"), (RECONNECTING, "var(--amber-9)"), "var(--gray-8)"),
            box_shadow="0 0 0 3px var(--gray-a3)",
        ),
        content=label,
    )


def bell() -> rx.Component:
    return rx.link(
        rx.box(
            rx.icon("bell", size=20),
            rx.cond(
                NotificationStore.unread_count > 0,
                rx.badge(
                    NotificationStore.unread_count,
                    id="unread-badge",
                    color_scheme="red",
                    variant="solid",
                    radius="full",
                    size="1",
                    position="absolute",
                    top="-0.5rem",
                    right="-0.7rem",
                ),
            ),
            position="relative",
            display="flex",
        ),
        href="/notifications",
        id="bell",
        aria_label=texts.NAV_NOTIFICATIONS,
        color="var(--gray-12)",
    )
