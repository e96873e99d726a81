"""Log in and sign up. Native form posts to the backend, which sets the HttpOnly cookie
and redirects back (to the page itself with ?error=... when something was wrong)."""

from __future__ import annotations

import reflex as rx

from notifier_app import texts
from notifier_app.components.layout import backend_url, error_callout, field, page
from notifier_app.components.native_form import native_form
from notifier_app.state.page_load import on_load


class AccountFormState(rx.State):
    error: str = ""
    email: str = ""
    nickname: str = ""
    next_path: str = "/"

    def _param(self, name: str, limit: int) -> str:
        value = self.router.url.query_parameters.get(name, "")
        return value[:limit] if isinstance(value, str) else ""

    @rx.event
    def load_login(self):
        self.error = texts.LOGIN_ERRORS.get(self._param("error", 32), "")
        self.email = self._param("email", 320)
        next_path = self._param("next", 200)
        self.next_path = next_path if next_path.startswith("/") and not next_path.startswith("//") else "/"

    @rx.event
    def load_signup(self):
        code = self._param("error", 32)
        self.error = texts.SIGNUP_ERRORS.get(code, texts.SIGNUP_ERROR_DEFAULT) if code else ""
        self.email = self._param("email", 320)
        self.nickname = self._param("nickname", 30)


def _card(title: str, *children: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(rx.vstack(rx.heading(title, size="6"), *children, spacing="4", width="100%"), width="100%", max_width="26rem"),
        width="100%",
        padding_top="2rem",
    )


def login_page() -> rx.Component:
    return page(
        _card(
            texts.LOGIN_TITLE,
            error_callout(AccountFormState.error),
            native_form(
                rx.vstack(
                    field(texts.EMAIL_LABEL, rx.input(name="email", type="email", id="login-email", default_value=AccountFormState.email, required=True, width="100%")),
                    field(texts.PASSWORD_LABEL, rx.input(name="password", type="password", id="login-password", required=True, width="100%")),
                    rx.el.input(type="hidden", name="next", value=AccountFormState.next_path),
                    rx.button(texts.LOGIN_SUBMIT, type="submit", id="login-submit", width="100%"),
                    spacing="3",
                    width="100%",
                ),
                action=backend_url("/auth/login"),
                method="post",
                width="100%",
            ),
            rx.link(texts.TO_SIGNUP, href="/signup", size="2"),
        ),
    )


def signup_page() -> rx.Component:
    return page(
        _card(
            texts.SIGNUP_TITLE,
            error_callout(AccountFormState.error),
            native_form(
                rx.vstack(
                    field(texts.EMAIL_LABEL, rx.input(name="email", type="email", id="signup-email", default_value=AccountFormState.email, required=True, width="100%")),
                    field(texts.NICKNAME_LABEL, rx.input(name="nickname", id="signup-nickname", default_value=AccountFormState.nickname, max_length=30, required=True, width="100%")),
                    field(texts.PASSWORD_LABEL, rx.input(name="password", type="password", id="signup-password", min_length=8, required=True, width="100%")),
                    rx.button(texts.SIGNUP_SUBMIT, type="submit", id="signup-submit", width="100%"),
                    spacing="3",
                    width="100%",
                ),
                action=backend_url("/auth/signup"),
                method="post",
                width="100%",
            ),
            rx.link(texts.TO_LOGIN, href="/login", size="2"),
        ),
    )


LOGIN_ON_LOAD = on_load(AccountFormState.load_login)
SIGNUP_ON_LOAD = on_load(AccountFormState.load_signup)
