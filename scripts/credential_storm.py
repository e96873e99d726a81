"""What a storm of credential work does to the server (issue 21, item 1).

Starts the real app (`reflex run --env prod`, backend only, fresh SQLite, as the API tests
do), then sends N concurrent wrong-password logins (and, with --signups, N concurrent
signups) while it measures:
- `/ping` latency, one request every 20 ms from a separate connection and process
  (p50/p99/max);
- the server's RSS: the sum over its process tree, sampled every 20 ms (peak, and after);
- a reader's toasts: a post every 250 ms by another user, from its request to the
  reader's `post.created` on /notifications/stream (p50/p99/max; none may be missing);
- the logins' own answers (statuses, latency p50/p99/max).

    .venv/bin/python scripts/credential_storm.py --logins 100
    .venv/bin/python scripts/credential_storm.py --logins 200 --signups 200 --json out.json

Prints one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import AppServer, migrated_sqlite_url  # noqa: E402

# The code under test: this checkout, or another (an older commit's worktree, for a before/after).
CODE = Path(os.environ.get("STORM_PROJECT_DIR", ROOT))

PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(pid: int) -> int:
    """Bytes resident in `pid` and every process below it."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children[ppid].append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, ()))
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except OSError:
            pass
    return total


class Sampler(threading.Thread):
    """/ping latency and tree RSS every `every` seconds until stopped."""

    def __init__(self, base_url: str, pid: int, every: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.base_url, self.pid, self.every = base_url, pid, every
        self.pings: list[float] = []
        self.ping_errors = 0
        self.rss: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        rss = threading.Thread(target=self._rss, daemon=True)
        rss.start()
        with httpx.Client(timeout=60) as client:
            while not self.stop.is_set():
                start = time.perf_counter()
                try:
                    client.get(self.base_url + "/ping").raise_for_status()
                    self.pings.append((time.perf_counter() - start) * 1000)
                except httpx.HTTPError:
                    self.ping_errors += 1
                self.stop.wait(self.every)
        rss.join()

    def _rss(self) -> None:
        while not self.stop.is_set():
            self.rss.append(tree_rss(self.pid))
            self.stop.wait(self.every)


class Toasts(threading.Thread):
    """A reader's notification stream, and a poster writing a post every `every` seconds:
    how long from the post's request to the reader's `post.created` (a toast)."""

    def __init__(self, base_url: str, reader_token: str, poster_token: str, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.base_url, self.every = base_url, every
        self.reader = {"Authorization": f"Bearer {reader_token}"}
        self.poster = {"Authorization": f"Bearer {poster_token}"}
        self.sent: dict[str, float] = {}  # href -> when its post was requested
        self.arrived: dict[str, float] = {}
        self.connected = threading.Event()
        self.stop = threading.Event()
        self.posting = threading.Event()

    def run(self) -> None:
        threading.Thread(target=self._post, daemon=True).start()
        with httpx.Client(timeout=httpx.Timeout(10, read=None)) as client:
            with client.stream("GET", self.base_url + "/notifications/stream", headers=self.reader) as r:
                self.connected.set()
                for line in r.iter_lines():
                    if line.startswith("data:"):
                        try:
                            href = json.loads(line[5:]).get("href", "")
                        except ValueError:
                            continue
                        self.arrived.setdefault(href, time.perf_counter())
                    if self.stop.is_set():
                        return

    def _post(self) -> None:
        with httpx.Client(timeout=60) as client:
            n = 0
            while not self.stop.is_set():
                if self.posting.is_set():
                    start = time.perf_counter()
                    r = client.post(self.base_url + "/api/posts", json={"title": f"t{n}", "body": "b"}, headers=self.poster)
                    if r.status_code == 201:
                        self.sent[f"/posts/{r.json()['id']}"] = start
                    n += 1
                self.stop.wait(self.every)

    def latencies(self, since: float) -> list[float]:
        return [
            (self.arrived[href] - sent) * 1000
            for href, sent in self.sent.items()
            if sent >= since and href in self.arrived
        ] + [float("inf") for href, sent in self.sent.items() if sent >= since and href not in self.arrived]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "p50": percentile(ms, 0.5), "p99": percentile(ms, 0.99), "max": round(max(ms), 1) if ms else None}


async def storm(base_url: str, email: str, logins: int, signups: int) -> dict:
    limits = httpx.Limits(max_connections=logins + signups + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def login(i: int):
            start = time.perf_counter()
            r = await client.post(f"{base_url}/api/auth/login", json={"email": email, "password": f"wrong-{i}-password"})
            return "login", r.status_code, (time.perf_counter() - start) * 1000

        async def signup(i: int):
            start = time.perf_counter()
            body = {"email": f"storm.{i}.{time.monotonic_ns()}@example.com", "nickname": f"s{i}", "password": "storm-password-1"}
            r = await client.post(f"{base_url}/api/auth/signup", json=body)
            return "signup", r.status_code, (time.perf_counter() - start) * 1000

        started = time.perf_counter()
        results = await asyncio.gather(*[login(i) for i in range(logins)], *[signup(i) for i in range(signups)])
        wall = time.perf_counter() - started
    out: dict = {"wall_s": round(wall, 2)}
    for kind in ("login", "signup"):
        mine = [r for r in results if r[0] == kind]
        if mine:
            out[kind] = {
                "statuses": dict(collections.Counter(status for _, status, _ in mine)),
                "latency_ms": summary([ms for _, _, ms in mine]),
            }
    return out


def run_storm(base_url: str, email: str, logins: int, signups: int) -> dict:
    return asyncio.run(storm(base_url, email, logins, signups))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logins", type=int, default=100)
    parser.add_argument("--signups", type=int, default=0)
    parser.add_argument("--json", help="also write the result here")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server (repeatable)")
    args = parser.parse_args()

    env = dict(item.split("=", 1) for item in args.env)
    db_url = migrated_sqlite_url(tempfile.mkdtemp(prefix="notifier-storm-"))
    with AppServer(db_url=db_url, name="storm", env=env, project_dir=CODE) as server:
        base = server.url
        email = f"victim.{time.monotonic_ns()}@example.com"
        r = httpx.post(f"{base}/api/auth/signup", json={"email": email, "nickname": "victim", "password": "victim-password-1"}, timeout=60)
        assert r.status_code == 201, r.text
        for _ in range(20):  # warm: the first requests import and compile
            httpx.get(base + "/ping")
        tokens = []
        for name in ("reader", "poster"):
            body = {"email": f"{name}.{time.monotonic_ns()}@example.com", "nickname": name, "password": "password-123"}
            tokens.append(httpx.post(f"{base}/api/auth/signup", json=body, timeout=60).json()["token"])
        toasts = Toasts(base, *tokens)
        toasts.start()
        toasts.connected.wait(10)
        sampler = Sampler(base, server.process.pid)
        sampler.start()
        toasts.posting.set()
        idle_since = time.perf_counter()
        time.sleep(2.0)
        idle_pings, idle_rss = list(sampler.pings), max(sampler.rss)
        mark = len(sampler.pings)
        mark_rss = len(sampler.rss)
        storm_since = time.perf_counter()
        idle_toasts = [ms for ms in toasts.latencies(idle_since) if ms != float("inf")]
        # The storm in a process of its own: its client work must not delay the pinger's
        # requests in this one (the GIL), or the client is measured and not the server.
        with multiprocessing.get_context("spawn").Pool(1) as client:
            result = client.apply(run_storm, (base, email, args.logins, args.signups))
        time.sleep(1.0)
        storm_pings, storm_rss = sampler.pings[mark:], sampler.rss[mark_rss:]
        toasts.posting.clear()
        time.sleep(1.0)  # the last posts' toasts arrive (or are counted missing)
        storm_toasts = toasts.latencies(storm_since)
        sampler.stop.set()
        sampler.join()
        toasts.stop.set()
        after_rss = tree_rss(server.process.pid)
        start = time.perf_counter()
        ok = httpx.post(f"{base}/api/auth/login", json={"email": email, "password": "victim-password-1"}, timeout=60)
        engine = sa.create_engine(db_url)
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT password_hash FROM users WHERE email = :e"), {"e": email}).scalar_one()
        engine.dispose()
        result.update(
            code=str(server.project_dir),
            argon2=stored.split("$")[3],  # the parameters the server hashes with
            logins=args.logins,
            signups=args.signups,
            server_env=env,
            cpus=os.cpu_count(),
            ping_idle_ms=summary(idle_pings),
            ping_during_ms=summary(storm_pings),
            ping_errors=sampler.ping_errors,
            toast_idle_ms=summary(idle_toasts[: len(idle_toasts)]),
            toast_during_ms=summary([ms for ms in storm_toasts if ms != float("inf")]),
            toasts_missing=sum(ms == float("inf") for ms in storm_toasts),
            rss_idle_mb=round(idle_rss / 2**20, 1),
            rss_peak_mb=round(max(storm_rss) / 2**20, 1),
            rss_after_mb=round(after_rss / 2**20, 1),
            right_password_after={"status": ok.status_code, "ms": round((time.perf_counter() - start) * 1000, 1)},
        )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
