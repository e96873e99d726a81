"""Issue 24: nothing the app writes in development may sit where `reflex run` watches.

Reflex 0.10.1's dev backend restarts when a file among its reload paths changes. Those
are the entries of the project root, minus hidden directories (and `uploaded_files`,
`reflex.lock`, `.gitignore`), each watched recursively. The SQLite database's
`-wal`/`-shm` files in the root restarted the backend every ~1.5 s. Everything the app
writes now lives in `.data/`, a hidden directory, so no new file there can be watched.
tests/e2e/test_make_dev.py proves it end to end on a fresh clone.
"""

from __future__ import annotations

from pathlib import Path

from notifier_app.config import DATA_DIR, DEV_DATABASE, DEV_SECRET_FILE, PROJECT_DIR, dev_database_url


def test_the_dev_database_and_secret_live_in_the_hidden_data_dir():
    assert DATA_DIR == PROJECT_DIR / ".data"
    assert DATA_DIR.name.startswith(".")
    assert dev_database_url() == f"sqlite:///{DEV_DATABASE}"
    assert DATA_DIR.is_dir()  # created by dev_database_url(): SQLite cannot create it
    for written in (DEV_DATABASE, DEV_SECRET_FILE):
        assert written.parent == DATA_DIR, written


def test_rxconfig_and_the_chores_use_the_dev_database(monkeypatch):
    """`python -m notifier_app migrate|seed` (db.database_url) and `reflex run` (rxconfig)
    open the same file when REFLEX_DB_URL is unset."""
    from reflex.config import get_config

    from notifier_app.db import database_url

    monkeypatch.delenv("REFLEX_DB_URL", raising=False)
    monkeypatch.chdir(PROJECT_DIR)
    assert get_config(reload=True).db_url == dev_database_url()
    assert database_url() == dev_database_url()


def test_the_reloader_never_watches_what_the_app_writes(monkeypatch):
    from reflex.utils.exec import get_reload_paths

    for name in ("REFLEX_HOT_RELOAD_OVERRIDE_PATHS", "REFLEX_HOT_RELOAD_INCLUDE_PATHS", "REFLEX_HOT_RELOAD_EXCLUDE_PATHS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(PROJECT_DIR)
    DATA_DIR.mkdir(exist_ok=True)
    watched = [Path(p).resolve() for p in get_reload_paths()]

    # The source is watched (hot reload still works)...
    assert (PROJECT_DIR / "notifier_app").resolve() in watched, watched
    # ...and nothing the app writes at run time is, whatever its name.
    written = [
        DEV_DATABASE, DEV_DATABASE.with_name("notifier.db-wal"), DEV_DATABASE.with_name("notifier.db-shm"),
        DEV_SECRET_FILE, DATA_DIR / "any-new-file.bin",
        PROJECT_DIR / ".states" / "x", PROJECT_DIR / ".web" / "x",  # Reflex's own, hidden too
        PROJECT_DIR / "uploaded_files" / "x",  # Reflex's upload dir, which it excludes by name
    ]
    for path in written:
        path = path.resolve()
        covering = [w for w in watched if path == w or path.is_relative_to(w)]
        assert not covering, f"{path} would restart the dev backend (watched through {covering})"

