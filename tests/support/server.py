"""Run the real app (`reflex run --env prod`) as a child process on a loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

PROJECT_DIR = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
TEST_SECRET = "test-secret-" + "x" * 40
ARTIFACTS = PROJECT_DIR / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def migrated_sqlite_url(directory: str | Path | None = None) -> str:
    """A fresh SQLite database in a temporary directory, migrated by Alembic."""
    from notifier_app.db import migrate

    directory = Path(directory or tempfile.mkdtemp(prefix="notifier-test-"))
    url = f"sqlite:///{directory / 'test.db'}"
    migrate(url)
    return url


def database_backend() -> str:
    """NOTIFIER_TEST_DB: `sqlite` (the default) or `postgres` (a throwaway local server)."""
    backend = os.environ.get("NOTIFIER_TEST_DB", "sqlite").strip().lower() or "sqlite"
    if backend in {"postgres", "postgresql", "pg"}:
        return "postgres"
    if backend != "sqlite":
        raise ValueError(f"NOTIFIER_TEST_DB must be sqlite or postgres, not {backend!r}")
    return backend


def fresh_database_url(directory: str | Path | None = None) -> str:
    """A fresh database migrated by Alembic, on the backend NOTIFIER_TEST_DB chooses.

    SQLite: a file in `directory`. PostgreSQL: a new database on the session's throwaway
    server (tests/support/postgres.py; `directory` is not used).
    """
    if database_backend() == "postgres":
        from notifier_app.db import migrate
        from tests.support import postgres

        url = postgres.fresh_database()
        migrate(url)
        return url
    return migrated_sqlite_url(directory)


class AppServer:
    """One `reflex run --env prod` process. `backend_only` skips the frontend build."""

    def __init__(
        self,
        *,
        db_url: str,
        backend_only: bool = True,
        dev: bool = False,
        env: dict[str, str] | None = None,
        name: str = "app",
        project_dir: Path = PROJECT_DIR,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dev = dev
        self.project_dir = project_dir  # a copy of the project keeps a second frontend build apart
        self.api_url = self.url
        if dev:  # `reflex run` as a developer runs it: Vite on one port, the backend on another
            self.backend_port = free_port()
            self.url = f"http://localhost:{self.port}"
            self.api_url = f"http://localhost:{self.backend_port}"
            backend_only = False
        self.db_url = db_url
        self.backend_only = backend_only
        self.extra_env = env or {}
        self.name = name
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / f"server-{name}-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            REFLEX_USE_NPM="1",
            REFLEX_TELEMETRY_ENABLED="false",
            REFLEX_DB_URL=self.db_url,
            REFLEX_API_URL=self.api_url,
            REFLEX_DEPLOY_URL=self.url,
            REFLEX_CORS_ALLOWED_ORIGINS=self.url,
            NOTIFIER_JWT_SECRET=TEST_SECRET,
            NOTIFIER_HEARTBEAT_SECONDS="1",
            PYTHONUNBUFFERED="1",
        )
        env.pop("REFLEX_REDIS_URL", None)
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        if self.dev:
            return [str(VENV_BIN / "reflex"), "run", "--env", "dev", "--frontend-port", str(self.port),
                    "--backend-port", str(self.backend_port)]
        cmd = [str(VENV_BIN / "reflex"), "run", "--env", "prod", "--backend-port", str(self.port), "--backend-host", "127.0.0.1"]
        if self.backend_only:
            cmd.append("--backend-only")
        else:
            cmd += ["--frontend-port", str(self.port)]
        return cmd

    def start(self, timeout: float = 240.0) -> AppServer:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command(), cwd=self.project_dir, env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        probe = "/" if not self.backend_only else "/ping"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} server exited with {self.process.returncode}; see {self.log_path}:\n{self.log_tail()}")
            try:
                if httpx.get(self.api_url + "/ping", timeout=1).status_code == 200 and (
                    probe == "/ping" or httpx.get(self.url + probe, timeout=5).status_code == 200
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"{self.name} server not ready after {timeout}s; see {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)

    def restart(self, timeout: float = 120.0) -> None:
        self.stop()
        self.start(timeout)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
