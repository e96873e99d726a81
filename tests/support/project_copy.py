"""A private copy of the project, so a second frontend build cannot overwrite the one the
session's browser tests are being served from (the API URL is baked into each build)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.server import PROJECT_DIR

COPIED = ["rxconfig.py", "notifier_app", "assets", "alembic", "alembic.ini", "reflex.lock"]


def copy_project(destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__")
    for name in COPIED:
        source = PROJECT_DIR / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore, symlinks=True)
        elif source.exists():
            shutil.copy2(source, destination / name)
    web = PROJECT_DIR / ".web"
    if web.is_dir():
        # Reuse the installed node_modules (read-only for a build); copy the rest.
        shutil.copytree(web, destination / ".web", ignore=shutil.ignore_patterns("node_modules", "build"), symlinks=True)
        if (web / "node_modules").is_dir():
            (destination / ".web" / "node_modules").symlink_to(web / "node_modules")
    return destination
