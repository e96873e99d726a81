"""Issue 8's measurement: p99 of /ping and /api/posts while N streams are open.

    python -m bench.capacity --streams 10000 --requests 300

Starts the real app (prod, backend only, one worker) on a scratch database, opens N SSE
streams with raw sockets from this process, then times sequential requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.client import signup
from tests.support.crowd import close_all, open_streams
from tests.support.server import AppServer, fresh_database_url

RESULTS = Path(__file__).parent / "results"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def measure(url: str, path: str, count: int) -> dict:
    timings = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for _ in range(count):
            started = time.perf_counter()
            response = await client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
    return {"p50_ms": round(statistics.median(timings), 2), "p99_ms": round(percentile(timings, 0.99), 2),
            "max_ms": round(max(timings), 2)}


async def scenario(server: AppServer, token: str, streams: int, requests: int) -> dict:
    idle = {"ping": await measure(server.url, "/ping", requests), "posts": await measure(server.url, "/api/posts", requests)}
    started = time.perf_counter()
    opened = await open_streams(server.port, token, streams)
    connect_s = time.perf_counter() - started
    try:
        statuses = [s.status for s in opened]
        loaded = {
            "ping": await measure(server.url, "/ping", requests),
            "posts": await measure(server.url, "/api/posts", requests),
        }
    finally:
        close_all(opened)
    return {"streams": streams, "all_200": statuses.count(200) == streams, "connect_seconds": round(connect_s, 1),
            "idle": idle, "with_streams_open": loaded}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity")
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    env = {"NOTIFIER_MAX_STREAMS_PER_USER": str(args.streams + 10), "GRANIAN_WORKERS": "1", "NOTIFIER_HEARTBEAT_SECONDS": "15"}
    with AppServer(db_url=fresh_database_url(tempfile.mkdtemp(prefix="capacity-")), env=env, name="capacity") as server:
        user = signup(server.url, "crowd")
        result = asyncio.run(scenario(server, user.token, args.streams, args.requests))
    result["command"] = f"python -m bench.capacity --streams {args.streams} --requests {args.requests}"
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"capacity-{time.strftime('%Y-%m-%d')}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
