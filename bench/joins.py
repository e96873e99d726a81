"""Chat joins at once: N streams join one room together, fresh and resuming.

    python -m bench.joins                          # N = 3,000, twice each
    python -m bench.joins --streams 5000 --ours-project /tmp/before   # another copy of the project

What a restart costs chat: every open chat tab reconnects at once, each replaying the
room's kept history (fresh) or what came after its Last-Event-ID (resuming). Starts the
real app (prod, backend only, one worker) on a scratch database with N bench accounts, sends
60 messages to the room through the API, then opens N streams from this process (raw
sockets, 200 connects in flight), each done once the room's newest message arrived.
Prints joins per second and the server's CPU time per round, and writes
`bench/results/joins-<date>.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench import procs
from bench.cli import RESULTS, meta, write
from bench.targets import seed_accounts
from tests.support.server import AppServer, migrated_sqlite_url

ROOM = "general"
MESSAGES = 60  # more than the room keeps (chat.HISTORY)
WINDOW = 200


async def join(port: int, token: str, resume: int | None, newest: int, gate: asyncio.Semaphore, opened: list) -> None:
    async with gate:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        opened.append(writer)
        request = f"GET /chat/stream?room={ROOM} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        if resume is not None:
            request += f"Last-Event-ID: {resume}\r\n"
        writer.write(f"{request}\r\n".encode())
        seen, done = b"", f"id: {newest}\n".encode()
        while done not in seen:
            chunk = await asyncio.wait_for(reader.read(65536), 60)
            if not chunk:
                raise RuntimeError(f"stream ended before message {newest}: {seen[:300]!r}")
            seen = seen[-len(done):] + chunk


async def storm(port: int, tokens: list[str], resume: int | None, newest: int, pids: list[int]) -> dict:
    gate, opened = asyncio.Semaphore(WINDOW), []
    cpu0, started = procs.snapshot(pids)["cpu_s"], time.perf_counter()
    try:
        await asyncio.gather(*(join(port, token, resume, newest, gate, opened) for token in tokens))
        wall = time.perf_counter() - started
        server_cpu = procs.snapshot(pids)["cpu_s"] - cpu0
    finally:
        for writer in opened:
            writer.close()
    await asyncio.sleep(2)  # the server lets them go before the next round
    return {"joins_per_s": round(len(tokens) / wall), "wall_s": round(wall, 2), "server_cpu_s": round(server_cpu, 2)}


def run(streams: int, rounds: int, project: Path | None) -> dict:
    db_url = migrated_sqlite_url()
    accounts = seed_accounts(streams, db_url=db_url)
    env = {"GRANIAN_WORKERS": "1", "NOTIFIER_HEARTBEAT_SECONDS": "15", "NOTIFIER_MAX_STREAMS": str(streams + 1000)}
    extra = {"project_dir": project} if project else {}
    results: dict[str, list] = {"fresh": [], "resuming": []}
    with AppServer(db_url=db_url, env=env, name="bench-joins", **extra) as server:
        publisher = {"Authorization": f"Bearer {accounts['publisher'][1]}"}
        with httpx.Client(base_url=server.url, headers=publisher, timeout=10) as client:
            for i in range(MESSAGES):
                sent = client.post("/chat/send", json={"roomId": ROOM, "message": f"message {i}, a line of chat"})
                sent.raise_for_status()
        engine = sa.create_engine(db_url)
        with engine.connect() as conn:
            newest = conn.exec_driver_sql("SELECT max(id) FROM chat_messages").scalar_one()
        engine.dispose()
        pids = procs.group_pids(server.process.pid)
        tokens = [token for _id, token in accounts["users"]]
        for _ in range(rounds):
            for kind, resume in (("fresh", None), ("resuming", newest - 5)):
                figures = asyncio.run(storm(server.port, tokens, resume, newest, pids))
                results[kind].append(figures)
                print(f"{kind:9} N={streams:,}  {figures['joins_per_s']:6,} joins/s  wall {figures['wall_s']:5.2f} s  "
                      f"server CPU {figures['server_cpu_s']:5.2f} s", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2, help="fresh + resuming storms per run")
    parser.add_argument("--ours-project", type=Path, help="run the server from this copy of the project")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = run(args.streams, args.rounds, args.ours_project)
    doc = {"meta": meta(streams=args.streams, project=str(args.ours_project or "")), **results}
    doc["meta"]["command"] = doc["meta"]["command"].replace("python -m bench", "python -m bench.joins", 1)
    path, _png = write(doc, args.out, f"joins-{dt.date.today().isoformat()}", plot=False)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
