"""The app: assembles the API, the pages and the lifespan. Nothing else lives here."""

from __future__ import annotations

import reflex as rx

from notifier_app import texts
from notifier_app.api.app import create_api
from notifier_app.api.misses import route_misses
from notifier_app.lifespan import realtime_lifespan
from notifier_app.pages import account, chat, feed, inbox, new_post, post, system
from notifier_app.state.notifications import serve_tabs

api = create_api()
app = rx.App(
    # Reflex's app is wrapped first, then mounted behind the API's routes (api/misses.py).
    api_transformer=[route_misses(api), api],
    head_components=[rx.el.meta(name="color-scheme", content="light")],
    stylesheets=["/notifier.css"],
)
app.register_lifespan_task(realtime_lifespan)
serve_tabs(app)

app.add_page(feed.feed_page, route="/", title=texts.APP_NAME, on_load=feed.ON_LOAD)
app.add_page(new_post.new_post_page, route="/posts/new", title=texts.NEW_POST_TITLE, on_load=new_post.ON_LOAD)
app.add_page(post.post_page, route="/posts/[post_id]", title=texts.APP_NAME, on_load=post.ON_LOAD)
app.add_page(account.login_page, route="/login", title=texts.LOGIN_TITLE, on_load=account.LOGIN_ON_LOAD)
app.add_page(account.signup_page, route="/signup", title=texts.SIGNUP_TITLE, on_load=account.SIGNUP_ON_LOAD)
app.add_page(inbox.inbox_page, route="/notifications", title=texts.INBOX_TITLE, on_load=inbox.ON_LOAD)
app.add_page(chat.chat_page, route="/chat", title=texts.CHAT_TITLE, on_load=chat.ON_LOAD)
app.add_page(system.system_page, route="/system", title=texts.SYSTEM_TITLE, on_load=system.ON_LOAD)
