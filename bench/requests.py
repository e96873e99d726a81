"""API requests timed in process: the real ASGI app (Reflex's, with ours mounted), no network.

    python -m bench.requests comment            # POST a comment (stores and publishes a notification)
    python -m bench.requests ping --n 5000      # GET /ping: the framework stacks alone
    python -m bench.requests stream             # open a notification stream, leave after its first bytes
    python -m bench.requests comment --profile /tmp/comment.prof   # cProfile of the loop's thread

For the request path's share of the targeted latency, without sockets or a load generator:
prints the CPU and wall time per request and its p50/p90/p99, and for comments the time
spent in the service (`services.create_comment`, in its worker thread). A scratch SQLite
database with a few bench accounts (bench/seed.py) is made in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECRET = "bench-requests-" + "x" * 40
WARM_UP = 200


def percentiles(values: list[float]) -> str:
    xs = sorted(values)
    return " ".join(f"p{q} {xs[min(len(xs) - 1, int(len(xs) * q / 100))]:.3f}" for q in (50, 90, 99)) + " ms"


class InProcess:
    """The app's ASGI callable with its lifespan started, and a way to call it."""

    def __init__(self, asgi) -> None:
        self.asgi = asgi

    async def start(self) -> None:
        inbox: asyncio.Queue = asyncio.Queue()
        outbox: asyncio.Queue = asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._lifespan = asyncio.ensure_future(self.asgi(scope, inbox.get, outbox.put))
        message = await asyncio.wait_for(outbox.get(), 30)
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the app did not start: {message}")

    async def request(
        self, method: str, path: str, token: str | None = None, body: bytes = b"", *, leave: bool = False
    ) -> tuple[int, bytes]:
        """One request; `leave`: the client goes away once the response's first bytes came."""
        path, _, query = path.partition("?")
        headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
        if token:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
                 "query_string": query.encode(), "headers": headers, "client": ("127.0.0.1", 50000),
                 "server": ("127.0.0.1", 8000), "state": {}}
        sent: list[dict] = []
        received = False
        first_bytes = asyncio.Event()

        async def receive() -> dict:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": body, "more_body": False}
            if not leave:
                await asyncio.Event().wait()  # the client stays until the response is done
            await first_bytes.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)
            if message["type"] == "http.response.body":
                first_bytes.set()

        await self.asgi(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def measure(mode: str, n: int, profile: Path | None, accounts: dict) -> None:
    from reflex.utils import prerequisites

    from notifier_app.blog import services

    app = InProcess(prerequisites.get_and_validate_app().app())
    await app.start()
    (_, author_token), (_, commenter_token) = accounts["users"][:2]
    status, body = await app.request("POST", "/api/posts", author_token, json.dumps({"title": "t", "body": "b"}).encode())
    assert status == 201, body
    post_id = json.loads(body)["id"]

    in_service: list[float] = []
    create_comment = services.create_comment

    def timed_create_comment(*args, **kwargs):
        started = time.perf_counter()
        try:
            return create_comment(*args, **kwargs)
        finally:
            in_service.append((time.perf_counter() - started) * 1000)

    services.create_comment = timed_create_comment
    calls = {
        "comment": lambda i: app.request("POST", f"/api/posts/{post_id}/comments", commenter_token,
                                         json.dumps({"content": f"c {i}"}).encode()),
        "posts": lambda i: app.request("GET", "/api/posts?limit=1"),
        "ping": lambda i: app.request("GET", "/ping"),
        "stream": lambda i: app.request("GET", "/notifications/stream", author_token, leave=True),
    }
    call = calls[mode]
    for i in range(WARM_UP):
        await call(i)
    in_service.clear()
    profiler = cProfile.Profile() if profile else None
    walls: list[float] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for i in range(n):
        started = time.perf_counter()
        status, body = await call(i)
        walls.append((time.perf_counter() - started) * 1000)
        if status >= 400:
            raise RuntimeError(f"{mode}: {status} {body[:200]!r}")
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    cpu = (time.process_time() - cpu0) / n * 1000
    wall = (time.perf_counter() - wall0) / n * 1000
    print(f"{mode}: {n} requests, {cpu:.3f} ms CPU and {wall:.3f} ms wall each; {percentiles(walls)}")
    if in_service:
        print(f"  in the service (worker thread): {percentiles(in_service)}")
    if profiler:
        print(f"  profile of the loop's thread: {profile}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["comment", "posts", "ping", "stream"])
    parser.add_argument("--n", type=int, default=1000, help="timed requests (after 200 to warm up)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the timed requests here")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="bench-requests-")
    db_url = f"sqlite:///{scratch}/bench.db"
    os.environ.update(NOTIFIER_JWT_SECRET=SECRET, REFLEX_DB_URL=db_url, REFLEX_ENV_MODE="prod",
                      NOTIFIER_LOG_LEVEL="WARNING")
    # Building the app's ASGI callable compiles its pages, with the venv's Node (as `make` does).
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    out = Path(scratch) / "accounts.json"
    subprocess.run([sys.executable, "-m", "bench.seed", "--users", "5", "--db", db_url, "--out", str(out)],
                   check=True, capture_output=True, env=dict(os.environ))
    asyncio.run(measure(args.mode, args.n, args.profile, json.loads(out.read_text())))


if __name__ == "__main__":
    main()
