"""Issue 8's measurement: p99 of /ping, /api/posts and /system/status while N streams are open.

    python -m bench.capacity --streams 10000 --requests 300
    python -m bench.capacity --streams 10000 --status-streams 500

Starts the real app (prod, backend only, one worker) on a scratch database, opens N SSE
streams with raw sockets from this process, then times sequential requests. With
`--status-streams K`, K public status streams (`/system/status/stream`, a snapshot every
2 s each) are opened on top, and the server's CPU over 10 s and /ping are measured again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import procs
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


PATHS = {"ping": "/ping", "posts": "/api/posts", "status": "/system/status"}
STATUS_SECONDS = 10.0


async def measure_all(url: str, requests: int) -> dict:
    return {name: await measure(url, path, requests) for name, path in PATHS.items()}


async def with_status_streams(server: AppServer, count: int, requests: int) -> dict:
    """`count` status streams read for STATUS_SECONDS: the server's CPU meanwhile, then /ping."""

    async def drain(reader: asyncio.StreamReader) -> None:
        while await reader.read(65536):
            pass

    opened = await open_streams(server.port, None, count, path="/system/status/stream")
    reading = [asyncio.create_task(drain(stream.reader)) for stream in opened]
    try:
        pids = procs.group_pids(server.process.pid)
        cpu = procs.snapshot(pids)["cpu_s"]
        await asyncio.sleep(STATUS_SECONDS)
        cpu = procs.snapshot(pids)["cpu_s"] - cpu
        return {
            "status_streams": count,
            "admitted": sum(stream.status == 200 for stream in opened),
            "server_cpu_share": round(cpu / STATUS_SECONDS, 3),
            "ping": await measure(server.url, "/ping", requests),
        }
    finally:
        for task in reading:
            task.cancel()
        close_all(opened)


async def scenario(server: AppServer, token: str, streams: int, requests: int, status_streams: int) -> dict:
    idle = await measure_all(server.url, requests)
    started = time.perf_counter()
    opened = await open_streams(server.port, token, streams)
    connect_s = time.perf_counter() - started
    try:
        statuses = [s.status for s in opened]
        loaded = await measure_all(server.url, requests)
        watched = await with_status_streams(server, status_streams, requests) if status_streams else None
    finally:
        close_all(opened)
    result = {"streams": streams, "all_200": statuses.count(200) == streams, "connect_seconds": round(connect_s, 1),
              "idle": idle, "with_streams_open": loaded}
    if watched:
        result["with_status_streams_too"] = watched
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity")
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--status-streams", type=int, default=0, help="then this many status streams on top")
    parser.add_argument("--ours-project", type=Path, help="run the server from this copy of the project")
    args = parser.parse_args()
    env = {
        "NOTIFIER_MAX_STREAMS_PER_USER": str(args.streams + 10),
        "NOTIFIER_MAX_STREAMS": str(max(args.streams + args.status_streams + 1000, 10_000)),
        "NOTIFIER_MAX_STATUS_STREAMS": str(max(args.status_streams, 1)),  # (100 by default)
        "GRANIAN_WORKERS": "1",
        "NOTIFIER_HEARTBEAT_SECONDS": "15",
    }
    extra = {"project_dir": args.ours_project} if args.ours_project else {}
    db_url = fresh_database_url(tempfile.mkdtemp(prefix="capacity-"))
    with AppServer(db_url=db_url, env=env, name="capacity", **extra) as server:
        user = signup(server.url, "crowd")
        result = asyncio.run(scenario(server, user.token, args.streams, args.requests, args.status_streams))
    result["command"] = "python -m bench.capacity " + " ".join(sys.argv[1:])
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"capacity-{time.strftime('%Y-%m-%d')}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
