"""Unread counts after a broadcast: every open browser tab recounts at once.

    python -m bench.unread                      # 1,000 tabs of 1,000 users, 5 rounds each way
    python -m bench.unread --tabs 3000 --rounds 3

A browser tab's notification task recounts its user's unread notifications after each
batch it receives (state/notifications.py), so a broadcast has every open tab asking
together. This times that moment on one event loop, against a scratch SQLite database
(migrated, N bench accounts, 40 broadcasts and 10 notifications per user, some read):
each tab's count in a worker-thread hop of its own (`asyncio.to_thread(log.unread_count)`,
how the tabs counted before) against the counts read together (`BatchedReads` over
`log.unread_counts`, how they count now). The two ways alternate; both must agree on
every count. Prints and writes (`bench/results/unread-<date>.json`) per way the time
until the last tab has its count, the process's CPU time, and the event loop's longest
stall meanwhile (what every stream on that loop waits).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import time
from pathlib import Path

from bench.cli import RESULTS, meta, write

BROADCASTS = 40
PER_USER = 10


def seed(users: int) -> list[int]:
    from bench.seed import PUBLISHER_ID, seed_database
    from notifier_app.realtime import events, log
    from tests.support.server import migrated_sqlite_url

    url = migrated_sqlite_url()
    os.environ["REFLEX_DB_URL"] = url  # before the engine is made
    seed_database(url, users)
    ids = list(range(PUBLISHER_ID + 1, PUBLISHER_ID + 1 + users))

    def event() -> dict:  # a new event id each
        return events.post_created(post_id=1, title="a post", author_id=PUBLISHER_ID, author_nickname="publisher")

    seqs = [log.append(event()).seq for _ in range(BROADCASTS)]
    for uid in ids:
        for _ in range(PER_USER):
            log.append(event(), user_id=uid)
        log.mark_read(uid, seqs[uid % BROADCASTS])
        if uid % 3 == 0:
            log.mark_all_read(uid)
            log.append(event(), user_id=uid)
    return ids


async def _stalls(stop: asyncio.Event, worst: list[float]) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0)
        worst[0] = max(worst[0], time.perf_counter() - before)


async def one_round(count, tabs: list[int]) -> tuple[dict, list[int]]:
    stop, worst = asyncio.Event(), [0.0]
    watcher = asyncio.create_task(_stalls(stop, worst))
    await asyncio.sleep(0.05)
    cpu0, started = time.process_time(), time.perf_counter()
    counts = await asyncio.gather(*(count(uid) for uid in tabs))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    stop.set()
    await watcher
    return {"wall_ms": round(wall * 1000, 1), "cpu_ms": round(cpu * 1000, 1),
            "loop_stall_ms": round(worst[0] * 1000, 2)}, counts


async def run(tabs: list[int], rounds: int) -> dict:
    from notifier_app.batching import BatchedReads
    from notifier_app.realtime import log

    async def per_tab(uid: int) -> int:
        return await asyncio.to_thread(log.unread_count, uid)

    together = BatchedReads(log.unread_counts, name="bench-unread-counts")
    ways = {"per_tab_hop": per_tab, "batched": together.get}
    results: dict[str, list] = {way: [] for way in ways}
    for i in range(rounds):
        agreed = None
        for way, count in ways.items() if i % 2 == 0 else reversed(ways.items()):
            figures, counts = await one_round(count, tabs)
            if agreed is not None and counts != agreed:
                raise SystemExit(f"the two ways disagree on the counts in round {i + 1}")
            agreed = counts
            results[way].append(figures)
            print(f"{way:12} tabs={len(tabs):,}  last count after {figures['wall_ms']:7.1f} ms  "
                  f"CPU {figures['cpu_ms']:7.1f} ms  loop stall {figures['loop_stall_ms']:6.2f} ms", flush=True)
    summary = {
        way: {key: round(statistics.median(r[key] for r in runs), 1) for key in ("wall_ms", "cpu_ms", "loop_stall_ms")}
        for way, runs in results.items()
    }
    return {"rounds": results, "median": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tabs", type=int, default=1000, help="open tabs, one user each")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    tabs = seed(args.tabs)
    results = asyncio.run(run(tabs, args.rounds))
    for way, figures in results["median"].items():
        print(f"median {way:12} {figures}")
    doc = {"meta": meta(tabs=args.tabs, rounds=args.rounds), **results}
    doc["meta"]["command"] = doc["meta"]["command"].replace("python -m bench", "python -m bench.unread", 1)
    path, _png = write(doc, args.out, f"unread-{dt.date.today().isoformat()}", plot=False)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
