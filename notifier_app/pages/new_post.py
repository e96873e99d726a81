"""Write a new post."""

from __future__ import annotations

import asyncio

import reflex as rx
from pydantic import ValidationError

from notifier_app import texts
from notifier_app.blog import services
from notifier_app.blog.schemas import PostIn
from notifier_app.components.layout import error_callout, field, page
from notifier_app.state.page_load import on_load
from notifier_app.state.session import SessionState


class NewPostState(rx.State):
    error: str = ""

    @rx.event
    def reset_form(self):
        self.error = ""

    @rx.event
    async def submit(self, form: dict):
        session = await self.get_state(SessionState)
        user_id = session.acting_user_id()
        if user_id is None:
            self.error = texts.LOGIN_REQUIRED
            return
        try:
            data = PostIn(title=str(form.get("title", "")), body=str(form.get("body", "")))
            post = await asyncio.to_thread(services.create_post, user_id, data)
        except ValidationError:
            self.error = texts.POST_INVALID
            return
        except services.NotFound:
            self.error = texts.LOGIN_REQUIRED
            return
        self.error = ""
        return rx.redirect(f"/posts/{post.id}")


def new_post_page() -> rx.Component:
    return page(
        rx.heading(texts.NEW_POST_TITLE, size="6"),
        rx.cond(
            SessionState.logged_in,
            rx.form(
                rx.vstack(
                    field(texts.TITLE_LABEL, rx.input(name="title", id="post-title-input", max_length=200, required=True, width="100%")),
                    field(texts.BODY_LABEL, rx.text_area(name="body", id="post-body-input", max_length=20000, rows="10", width="100%")),
                    error_callout(NewPostState.error),
                    rx.button(texts.PUBLISH, type="submit", id="post-submit"),
                    spacing="3",
                    width="100%",
                    align="end",
                ),
                on_submit=NewPostState.submit,
                width="100%",
            ),
            rx.link(texts.LOGIN_REQUIRED, href="/login?next=/posts/new"),
        ),
    )


ON_LOAD = on_load(NewPostState.reset_form)
