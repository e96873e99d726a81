"""`reflex export` of the static frontend, for the split-deploy test, without touching the
project's own `.web/`.

`reflex export` compiles and builds into `.web/` (it empties `.web/build` first), the
directory the session's prod `web_server` serves from. So the export runs in a copy of the
project in a temporary directory (sources, `reflex.lock/`, and `.web/` minus its build
output, so the installed node_modules are reused), and `frontend.zip` lands there too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

from tests.support.server import ARTIFACTS, PROJECT_DIR, TEST_SECRET, VENV_BIN

# What `reflex export` needs from the project; everything else (tests, .venv, artifacts) stays.
PROJECT_PARTS = ["rxconfig.py", "notifier_app", "assets", "alembic", "alembic.ini", "reflex.lock", ".web"]
WEB_SKIP = {"build", ".react-router", "backend"}  # outputs of a build, rebuilt by the export


def _ignore(directory: str, names: list[str]) -> set[str]:
    skip = {n for n in names if n == "__pycache__"}
    if Path(directory) == PROJECT_DIR / ".web":
        skip |= WEB_SKIP & set(names)
    return skip


def copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        src = PROJECT_DIR / part
        if src.is_dir():
            shutil.copytree(src, dest / part, symlinks=True, ignore=_ignore)
        elif src.exists():
            shutil.copy2(src, dest / part)
    return dest


def export_frontend(workdir: Path, *, api_url: str, deploy_url: str, timeout: float = 900) -> Path:
    """Export the frontend with `api_url` baked in; returns the unpacked static site's root.

    Runs what docs/deploy.md tells an operator to run:
    `REFLEX_API_URL=… reflex export --frontend-only --zip-dest-dir DIR`, then unzip.
    """
    project = copy_project(workdir / "project")
    out = workdir / "export"
    out.mkdir()
    env = dict(os.environ)
    env.pop("REFLEX_REDIS_URL", None)
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        REFLEX_USE_NPM="1",
        REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_API_URL=api_url,
        REFLEX_DEPLOY_URL=deploy_url,
        REFLEX_DB_URL=f"sqlite:///{workdir / 'export.db'}",
        NOTIFIER_JWT_SECRET=TEST_SECRET,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "export-split-deploy.log"
    with open(log_path, "wb") as log:
        result = subprocess.run(
            [str(VENV_BIN / "reflex"), "export", "--frontend-only", "--env", "prod", "--zip-dest-dir", str(out)],
            cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout,
        )
    if result.returncode != 0 or not (out / "frontend.zip").exists():
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"reflex export failed ({result.returncode}); see {log_path}:\n{tail}")
    site = workdir / "site"
    with zipfile.ZipFile(out / "frontend.zip") as archive:
        archive.extractall(site)
    return site
