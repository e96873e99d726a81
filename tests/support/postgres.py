"""A throwaway PostgreSQL server for the tests (Debian's `postgresql` package).

One server per test session, started on first use: `initdb` into a temporary directory,
listening on 127.0.0.1 on a free port (its socket in that directory too), trust
authentication, durability off (fsync). Every call of `fresh_database()` creates a new
empty database on it. `stop()` (called at the end of the pytest session, and at exit)
shuts it down and removes the directory.

PostgreSQL refuses to run as root; CI runs as root, so the server runs as the `postgres`
system user (`runuser -u postgres --`), which owns the temporary directory.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from tests.support.server import ARTIFACTS, free_port

SUPERUSER = "postgres"


def _bin_dir() -> Path:
    """NOTIFIER_PG_BIN, or the newest /usr/lib/postgresql/<version>/bin (Debian's layout)."""
    if os.environ.get("NOTIFIER_PG_BIN"):
        return Path(os.environ["NOTIFIER_PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        on_path = shutil.which("initdb")
        if on_path:
            return Path(on_path).parent
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql), or set NOTIFIER_PG_BIN")
    return Path(found[-1]).parent


class PostgresServer:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        # Under /tmp, not $TMPDIR: the `postgres` user must be able to reach it.
        self.dir = Path(tempfile.mkdtemp(prefix="notifier-pg-", dir=os.environ.get("NOTIFIER_PG_TMP", "/tmp")))
        self.data = self.dir / "data"
        self.log_path = self.dir / "postgres.log"  # copied to artifacts/ when the server stops
        self.started = False
        self._names = itertools.count(1)

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", SUPERUSER, "--", *cmd]
        # cwd: a directory the `postgres` user can enter (the project may sit under /root)
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd=self.dir)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{self.log_tail()}")
        return result

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def start(self) -> PostgresServer:
        if self.as_root:
            shutil.chown(self.dir, SUPERUSER, SUPERUSER)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        options = " ".join([
            "-c listen_addresses=127.0.0.1", f"-p {self.port}", f"-k {self.dir}",
            "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
            "-c max_connections=300", "-c timezone=UTC",
        ])
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "-t", "60", "start")
        self.started = True
        return self

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        """A new database (a copy of `template`, a URL from here, if given); its URL."""
        import psycopg

        name = f"notifier_test_{os.getpid()}_{next(self._names)}"
        sql = f'CREATE DATABASE "{name}"'
        if template:
            sql += f' TEMPLATE "{template.rsplit("/", 1)[1]}"'
        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True) as conn:
            conn.execute(sql)
        return self.url(name)

    def stop(self) -> None:
        if self.started:
            self.started = False
            result = self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop", check=False)
            if result.returncode != 0:
                self._kill_postmaster()
        if self.log_path.exists():
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copyfile(self.log_path, ARTIFACTS / f"postgres-{self.port}.log")
        shutil.rmtree(self.dir, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 9)
        except (OSError, ValueError, IndexError):
            pass


_server: PostgresServer | None = None
_lock = threading.Lock()


def server() -> PostgresServer:
    """The session's PostgreSQL server, started on first use."""
    global _server
    with _lock:
        if _server is None:
            candidate = PostgresServer()
            try:
                candidate.start()
            except BaseException:
                candidate.stop()
                raise
            _server = candidate
            atexit.register(stop)
        return _server


def fresh_database(template: str | None = None) -> str:
    """The URL of a new database on the session's server: empty, or a copy of `template`."""
    return server().create_database(template)


def stop() -> None:
    """Stop the session's server if one was started (idempotent)."""
    global _server
    with _lock:
        srv, _server = _server, None
    if srv is not None:
        srv.stop()
