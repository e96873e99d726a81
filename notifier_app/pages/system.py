"""/system (admins): live connection counts and events per second, with a chart."""

from __future__ import annotations

import asyncio
import time

import reflex as rx

from notifier_app import texts
from notifier_app.auth.accounts import accounts
from notifier_app.components.layout import page
from notifier_app.realtime import status
from notifier_app.state.page_load import on_load
from notifier_app.state.session import SessionState


class SystemState(rx.State):
    allowed: bool = False
    connections: int = 0
    users: int = 0
    events_per_second: float = 0.0
    uptime: int = 0
    by_kind: list[dict[str, str]] = []
    published: list[dict[str, str]] = []
    history: list[dict] = []
    _generation: int = 0

    def _refresh(self) -> None:
        snapshot = status.snapshot()
        self.connections = snapshot["connections"]
        self.users = snapshot["users"]
        self.events_per_second = snapshot["eventsPerSecond"]
        self.uptime = int(snapshot["uptimeSeconds"])
        self.by_kind = [{"kind": k, "count": str(v)} for k, v in sorted(snapshot["connectionsByKind"].items())]
        self.published = [{"type": k, "count": str(v)} for k, v in sorted(snapshot["eventsPublished"].items())]
        self.history = [
            {"time": time.strftime("%H:%M:%S", time.localtime(h["time"])), "connections": h["connections"], "eps": h["eventsPerSecond"]}
            for h in status.history()
        ]

    @rx.event(background=True)
    async def watch(self):
        """Refresh every sampling interval for as long as the page is open."""
        # Background handlers start at once, not after load_session: check the cookie here.
        async with self:
            user_id = (await self.get_state(SessionState)).acting_user_id()
        user = await accounts.get(user_id) if user_id is not None else None
        async with self:
            self.allowed = user is not None and user.is_admin
            if not self.allowed:
                return
            self._generation += 1
            generation = self._generation
            self._refresh()
        while True:
            await asyncio.sleep(status.SAMPLE_EVERY_SECONDS)
            async with self:
                if generation != self._generation:
                    return
                self._refresh()


def stat(label: str, value, id_: str) -> rx.Component:
    return rx.card(
        rx.vstack(rx.text(label, size="1", color_scheme="gray"), rx.heading(value, size="6", id=id_), spacing="1"),
        flex="1",
    )


def chart() -> rx.Component:
    return rx.recharts.line_chart(
        rx.recharts.line(data_key="connections", stroke="var(--indigo-9)", name=texts.CONNECTIONS, dot=False, is_animation_active=False),
        rx.recharts.line(data_key="eps", stroke="var(--green-9)", name=texts.EVENTS_PER_SECOND, dot=False, y_axis_id="right", is_animation_active=False),
        rx.recharts.x_axis(data_key="time"),
        rx.recharts.y_axis(allow_decimals=False),
        rx.recharts.y_axis(y_axis_id="right", orientation="right"),
        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
        data=SystemState.history,
        width="100%",
        height=280,
        id="system-chart",
    )


def table(rows, key: str, heading: str) -> rx.Component:
    return rx.vstack(
        rx.text(heading, weight="bold", size="2"),
        rx.foreach(rows, lambda row: rx.hstack(rx.text(row[key], size="2"), rx.spacer(), rx.text(row["count"], size="2"), width="100%")),
        flex="1",
        spacing="1",
    )


def system_page() -> rx.Component:
    return page(
        rx.heading(texts.SYSTEM_TITLE, size="6"),
        rx.cond(
            SystemState.allowed,
            rx.vstack(
                rx.hstack(
                    stat(texts.CONNECTIONS, SystemState.connections, "stat-connections"),
                    stat(texts.USERS_ONLINE, SystemState.users, "stat-users"),
                    stat(texts.EVENTS_PER_SECOND, SystemState.events_per_second, "stat-eps"),
                    stat(texts.UPTIME, SystemState.uptime, "stat-uptime"),
                    width="100%",
                ),
                rx.card(chart(), width="100%"),
                rx.hstack(
                    rx.card(table(SystemState.by_kind, "kind", texts.BY_KIND), flex="1"),
                    rx.card(table(SystemState.published, "type", texts.PUBLISHED), flex="1"),
                    width="100%",
                ),
                width="100%",
                spacing="3",
            ),
            rx.text(texts.ADMIN_ONLY, id="admin-only"),
        ),
    )


ON_LOAD = on_load(SystemState.watch)
