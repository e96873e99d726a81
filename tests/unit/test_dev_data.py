"""Issue 24: nothing the app writes in development may sit where `reflex run` watches.

Reflex 0.10.1's dev backend restarts when a file among its reload paths changes. Those
are the entries of the project root, minus hidden directories (and `uploaded_files`,
`reflex.lock`, `.gitignore`), each watched recursively. The SQLite database's
`-wal`/`-shm` files in the root restarted the backend every ~1.5 s. Everything the app
writes now lives in `.data/`, a hidden directory, so no new file there can be watched.
tests/e2e/test_make_dev.py proves it end to end on a fresh clone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from notifier_app.config import DATA_DIR, DEV_DATABASE, DEV_SECRET_FILE, PROJECT_DIR, dev_database_url


def test_the_dev_database_and_secret_live_in_the_hidden_data_dir():
    assert DATA_DIR == PROJECT_DIR / ".data"
    assert DATA_DIR.name.startswith(".")
    assert dev_database_url() == f"sqlite:///{DEV_DATABASE}"
    assert DATA_DIR.is_dir()  # created by dev_database_url(): SQLite cannot create it
    for written in (DEV_DATABASE, DEV_SECRET_FILE):
        assert written.parent == DATA_DIR, written


def test_rxconfig_and_the_chores_use_the_dev_database():
    """`python -m notifier_app migrate|seed` (db.database_url) and `reflex run` (rxconfig)
    open the same file when REFLEX_DB_URL is unset. (A child process: loading rxconfig
    here would change this process's environment.)"""
    env = {k: v for k, v in os.environ.items() if k != "REFLEX_DB_URL"}
    script = (
        "from reflex.config import get_config; from notifier_app.db import database_url; "
        "print(get_config().db_url); print(database_url())"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [dev_database_url(), dev_database_url()], result.stdout


def test_the_reloader_never_watches_what_the_app_writes():
    DATA_DIR.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFLEX_HOT_RELOAD_")}
    script = (  # sys.path as under `reflex run`: the project directory, absolute (not `-c`'s "")
        "import json, os, sys; sys.path[0] = os.getcwd(); from reflex.utils.exec import get_reload_paths; "
        "print(json.dumps(list(map(str, get_reload_paths()))))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    watched = [Path(p).resolve() for p in json.loads(result.stdout.strip().splitlines()[-1])]

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
