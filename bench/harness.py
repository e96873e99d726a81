"""The scenarios, run against one target at one connection count.

For C connections (one per bench user, users 2..C+1; user 1 publishes):
1. warm-up: a few streams and one broadcast, then closed; server RSS and CPU read;
2. connect: C streams opened by the load generator, `window` in flight per worker —
   connections accepted per second (first connect started to last headers read);
3. idle: after `settle_s`, server RSS again — growth per idle connection;
4. broadcast: `broadcasts` posts, one at a time, each waited for at every subscriber —
   latency (publish request start to arrival) p50/p99/max over all deliveries, and the
   median over broadcasts of the time until the last subscriber had it;
5. targeted: a post by user 2, then `targeted` comments on it by the publisher, one at a
   time — each goes to user 2 only; latency p50/p99 (and a check nobody else got one);
6. burst: `burst` posts back to back — events delivered per second, from the first
   publish request to the last arrival;
7. reconnect storm (a server with history to resume from): every stream closed, then all
   reopened at once with the Last-Event-ID of the last burst post — reconnects accepted
   per second, each one a resume that finds nothing missed.
Arrival is the kernel's receive timestamp when the socket gives one (SO_TIMESTAMPNS),
else the reader's own clock; both are kept.
"""

from __future__ import annotations

import itertools
import math
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procs
from bench.loadgen import ClientPool
from bench.targets import Target

NS = 1_000_000_000
_keys = itertools.count(1)


def next_key() -> int:
    return next(_keys)


@dataclass
class Params:
    connections: int
    broadcasts: int = 10
    targeted: int = 1_000
    burst: int = 20
    window: int = 200  # connects in flight per load-generator process
    settle_s: float = 5.0
    pause_s: float = 0.2
    expect_timeout: float = 60.0
    connect_timeout: float = 180.0


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize_ms(latencies_ns: list[int]) -> dict[str, Any]:
    values = sorted(latencies_ns)
    if not values:
        return {"n": 0}
    ms = 1e6
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50) / ms, 3),
        "p90_ms": round(percentile(values, 90) / ms, 3),
        "p99_ms": round(percentile(values, 99) / ms, 3),
        "max_ms": round(values[-1] / ms, 3),
        "mean_ms": round(sum(values) / len(values) / ms, 3),
    }


def cdf_points(latencies_ns: list[int], points: int = 200) -> list[float]:
    """The latency (ms) at `points` evenly spaced quantiles: enough to draw the distribution."""
    values = sorted(latencies_ns)
    if not values:
        return []
    return [round(percentile(values, 100 * (i + 1) / points) / 1e6, 3) for i in range(points)]


class Run:
    """One target at one connection count."""

    def __init__(self, target: Target, pool: ClientPool, accounts: dict, params: Params,
                 say: Callable[[str], None] = print) -> None:
        self.target = target
        self.pool = pool
        self.accounts = accounts
        self.p = params
        self.say = say
        self.open_per_worker: list[int] = [0] * pool.size
        self.dropped = 0
        self.duplicates = 0
        self.profile_dir: Path | None = None

    def _start_profiler(self) -> subprocess.Popen | None:
        """py-spy on the server process with the most open files (a development aid, not a dependency)."""
        pids = self.target.pids()
        if not pids:
            return None
        pid = max(pids, key=procs.open_fds) if len(pids) > 1 else pids[0]
        if self.target.name == "ours":
            pid = max(pids)  # the granian worker is started after the supervisor
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        out = self.profile_dir / f"{self.target.name}-{self.p.connections}.txt"
        self.say(f"  py-spy on pid {pid} -> {out}")
        return subprocess.Popen(
            [shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid),
             "--rate", "200", "--format", "raw", "--nonblocking", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    # -- load generator helpers -------------------------------------------------------------
    def connect(self, users: list[list], offset: int = 0, last_event_id: int | None = None) -> dict[str, Any]:
        per_worker: dict[int, list] = {i: [] for i in range(self.pool.size)}
        for n, (uid, token) in enumerate(users):
            cid = offset + n
            per_worker[cid % self.pool.size].append((cid, uid, self.target.request(token, last_event_id)))
        msgs = {i: ("connect", "127.0.0.1", self.target.port, items, self.p.window, self.p.connect_timeout)
                for i, items in per_worker.items()}
        replies = self.pool.call(msgs, "connected", self.p.connect_timeout + 30)
        ok = sum(r["ok"] for r in replies.values())
        failed: dict[str, int] = {}
        for r in replies.values():
            for why, n in r["failed"].items():
                failed[why] = failed.get(why, 0) + n
        starts = [r["first_start"] for r in replies.values() if r["first_start"]]
        ends = [r["last_ready"] for r in replies.values() if r["last_ready"]]
        seconds = (max(ends) - min(starts)) / NS if starts and ends else math.nan
        self.open_per_worker = [replies[i]["open"] for i in range(self.pool.size)]
        return {"requested": len(users), "ok": ok, "failed": failed, "seconds": round(seconds, 3),
                "per_s": round(ok / seconds, 1) if seconds and seconds > 0 else None}

    def expect(self, keys: list[int], wanted: dict[int, int] | None = None, timeout: float | None = None) -> bool:
        """Wait until every key arrived `wanted[i]` times in worker i (default: all its streams)."""
        timeout = timeout or self.p.expect_timeout
        targets = wanted if wanted is not None else {i: "all" for i in range(self.pool.size)}
        msgs = {i: ("expect", keys, n, timeout) for i, n in targets.items()}
        replies = self.pool.call(msgs, "expect", timeout + 30)
        return all(r["ok"] for r in replies.values())

    def collect(self, keys: list[int]) -> dict[int, tuple[list[int], list[int]]]:
        replies = self.pool.broadcast_call(("collect", keys), "collect", 120)
        merged: dict[int, tuple[list[int], list[int]]] = {k: ([], []) for k in keys}
        for r in replies:
            for k, (kern, mono) in r["arrivals"].items():
                merged[k][0].extend(kern)
                merged[k][1].extend(mono)
        self.duplicates = sum(r["duplicates"] for r in replies)
        self.dropped = sum(r["dropped"] for r in replies)
        return merged

    def close_all(self) -> dict[str, int]:
        replies = self.pool.broadcast_call(("close",), "closed", 120)
        self.open_per_worker = [0] * self.pool.size
        return {"closed": sum(r["closed"] for r in replies), "dropped": sum(r["dropped"] for r in replies),
                "duplicates": sum(r["duplicates"] for r in replies)}

    @staticmethod
    def latencies(pub: tuple[int, int], kern: list[int], mono: list[int]) -> tuple[list[int], list[int]]:
        """(latency by kernel timestamp where there is one, latency by the reader's clock)."""
        pub_mono, pub_real = pub
        by_kernel = [(k - pub_real) if k else (m - pub_mono) for k, m in zip(kern, mono)]
        by_reader = [m - pub_mono for m in mono]
        return by_kernel, by_reader

    def server_snapshot(self) -> dict:
        return procs.snapshot(self.target.pids())

    # -- the scenarios ------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        p, target, say = self.p, self.target, self.say
        users = self.accounts["users"][: p.connections]
        if len(users) < p.connections:
            raise ValueError(f"only {len(users)} accounts for {p.connections} connections")
        result: dict[str, Any] = {"target": target.name, "connections": p.connections}
        started = time.monotonic()
        say(f"[{target.name} C={p.connections}] starting the server")
        target.start(p.connections)
        result["startup_s"] = round(time.monotonic() - started, 1)
        profiler = self._start_profiler() if self.profile_dir else None
        try:
            self._scenarios(users, result)
        finally:
            try:
                if profiler is not None:
                    profiler.send_signal(signal.SIGINT)
                    profiler.wait(60)
                self.close_all()
            finally:
                target.stop()
        result["wall_s"] = round(time.monotonic() - started, 1)
        return result

    def _scenarios(self, users: list[list], result: dict[str, Any]) -> None:
        p, target, say = self.p, self.target, self.say
        pool = self.pool

        # 1. warm-up: first requests, first stream, first broadcast (lazy imports, pools, caches)
        warm = users[: min(10, len(users))]
        self.connect(warm)
        k = next_key()
        target.broadcast(k)
        self.expect([k], timeout=30)
        self.collect([k])
        self.close_all()
        time.sleep(1.0)
        base = self.server_snapshot()
        machine0, client0, server0, own0 = procs.cpu_ticks(), pool.cpu_seconds(), base["cpu_s"], _self_cpu()

        # 2. connect
        # In two halves: the second half's RSS growth is the marginal cost of a stream, free
        # of whatever the server allocates once for handling connections at all (thread
        # pools, database connections and their caches, allocator high-water marks).
        say(f"[{target.name} C={p.connections}] connecting")
        half = len(users) // 2
        first = self.connect(users[:half])
        cpu_first = self.server_snapshot()["cpu_s"]
        time.sleep(p.settle_s)
        mid = self.server_snapshot()
        second = self.connect(users[half:], offset=half)
        after_connect = self.server_snapshot()
        failed = dict(first["failed"])
        for why, n in second["failed"].items():
            failed[why] = failed.get(why, 0) + n
        ok, seconds = first["ok"] + second["ok"], first["seconds"] + second["seconds"]
        conn = {"requested": len(users), "ok": ok, "failed": failed, "seconds": round(seconds, 3),
                "per_s": round(ok / seconds, 1) if seconds > 0 else None}
        result["connect"] = conn
        if ok < p.connections:
            say(f"  !! only {ok} of {p.connections} connected: {failed}")

        # 3. idle memory
        time.sleep(p.settle_s)
        idle = self.server_snapshot()
        result["memory"] = {
            "rss_before_kb": base["rss_kb"],
            "rss_half_kb": mid["rss_kb"],
            "rss_idle_kb": idle["rss_kb"],
            "per_connection_kb": round((idle["rss_kb"] - base["rss_kb"]) / max(1, ok), 2),
            "marginal_per_connection_kb": round((idle["rss_kb"] - mid["rss_kb"]) / max(1, second["ok"]), 2),
            "settle_s": p.settle_s,
            "server_pids": sorted(idle["per_pid"]),
            "per_pid": {str(pid): v for pid, v in idle["per_pid"].items()},
        }
        result["cpu"] = {"server_connect_s": round(after_connect["cpu_s"] - mid["cpu_s"] + cpu_first - server0, 3)}

        # 4. broadcast, one at a time
        say(f"[{target.name} C={p.connections}] {p.broadcasts} broadcasts")
        s0, c0 = self.server_snapshot()["cpu_s"], pool.cpu_seconds()
        pubs, ok_all = {}, True
        for _ in range(p.broadcasts):
            k = next_key()
            pubs[k] = target.broadcast(k)
            ok_all &= self.expect([k])
            time.sleep(p.pause_s)
        arrivals = self.collect(list(pubs))
        expected = sum(self.open_per_worker)
        all_lat, all_user, last = [], [], []
        delivered = 0
        for k, pub in pubs.items():
            lat, user_lat = self.latencies(pub, *arrivals[k])
            delivered += len(lat)
            all_lat += lat
            all_user += user_lat
            if lat:
                last.append(max(lat))
        result["broadcast"] = {
            **summarize_ms(all_lat),
            "last_subscriber_median_ms": round(percentile(sorted(last), 50) / 1e6, 3) if last else None,
            "last_subscriber_ms": [round(x / 1e6, 3) for x in last],
            "reader_clock": summarize_ms(all_user),
            "broadcasts": p.broadcasts,
            "expected": expected * p.broadcasts,
            "delivered": delivered,
            "complete": ok_all and delivered == expected * p.broadcasts,
            "cdf_ms": cdf_points(all_lat),
        }
        result["cpu"]["server_broadcast_s"] = round(self.server_snapshot()["cpu_s"] - s0, 3)
        result["cpu"]["client_broadcast_s"] = round(pool.cpu_seconds() - c0, 3)

        # 5. targeted: comments on user 2's post reach user 2 only
        if target.supports_targeted and p.targeted:
            say(f"[{target.name} C={p.connections}] {p.targeted} targeted")
            _author_uid, author_token = users[0]
            k = next_key()
            _m, _r, post_id = target.create_post_as(author_token, k)
            wanted = {i: n - (1 if i == 0 else 0) for i, n in enumerate(self.open_per_worker)}
            self.expect([k], wanted)
            self.collect([k])
            rtt_mark = len(target._publisher.rtt_ns)
            pubs, ok_all = {}, True
            for _ in range(p.targeted):
                k = next_key()
                pubs[k] = target.comment(post_id, k)
                ok_all &= self.expect([k], {0: 1}, timeout=10)
            arrivals = self.collect(list(pubs))
            lat_all, user_all, wrong = [], [], 0
            for k, pub in pubs.items():
                lat, user_lat = self.latencies(pub, *arrivals[k])
                wrong += max(0, len(lat) - 1)
                lat_all += lat[:1]
                user_all += user_lat[:1]
            rtts = target._publisher.rtt_ns[rtt_mark:]
            result["targeted"] = {
                **summarize_ms(lat_all),
                "reader_clock": summarize_ms(user_all),
                "publish_request": summarize_ms(rtts),
                "expected": p.targeted,
                "delivered": len(lat_all),
                "delivered_to_others": wrong,
                "complete": ok_all and len(lat_all) == p.targeted and wrong == 0,
            }

        # 6. burst: back-to-back broadcasts
        say(f"[{target.name} C={p.connections}] burst of {p.burst}")
        time.sleep(p.pause_s)
        s0, c0 = self.server_snapshot()["cpu_s"], pool.cpu_seconds()
        keys = [next_key() for _ in range(p.burst)]
        pubs_list = target.burst(keys)
        ok = self.expect(keys, timeout=max(p.expect_timeout, 120))
        arrivals = self.collect(keys)
        first_pub_real = min(r for _m, r in pubs_list)
        first_pub_mono = min(m for m, _r in pubs_list)
        last_k, last_m, delivered = 0, 0, 0
        for k in keys:
            kern, mono = arrivals[k]
            delivered += len(kern)
            if kern:
                last_k = max(last_k, max(kern))
                last_m = max(last_m, max(mono))
        seconds = ((last_k - first_pub_real) if last_k else (last_m - first_pub_mono)) / NS
        result["burst"] = {
            "broadcasts": p.burst,
            "expected": expected * p.burst,
            "delivered": delivered,
            "seconds": round(seconds, 4),
            "events_per_s": round(delivered / seconds, 1) if seconds > 0 else None,
            "reader_clock_events_per_s": round(delivered / ((last_m - first_pub_mono) / NS), 1) if last_m else None,
            "complete": ok and delivered == expected * p.burst,
        }
        result["cpu"]["server_burst_s"] = round(self.server_snapshot()["cpu_s"] - s0, 3)
        result["cpu"]["client_burst_s"] = round(pool.cpu_seconds() - c0, 3)

        # 7. reconnect storm: every stream drops and comes back at once with its
        # Last-Event-ID, as EventSource clients do after a server restart
        resume_from = target.newest_seen(users[0][1])
        if resume_from is not None:
            say(f"[{target.name} C={p.connections}] reconnecting with Last-Event-ID {resume_from}")
            self.close_all()
            time.sleep(p.pause_s)
            s0 = self.server_snapshot()["cpu_s"]
            result["reconnect"] = {**self.connect(users, last_event_id=resume_from), "last_event_id": resume_from}
            result["cpu"]["server_reconnect_s"] = round(self.server_snapshot()["cpu_s"] - s0, 3)

        # what else ran on the machine meanwhile (other processes, and kernel time no process was charged)
        machine1 = procs.cpu_ticks()
        server_cpu = self.server_snapshot()["cpu_s"] - server0
        client_cpu = pool.cpu_seconds() - client0
        own = server_cpu + client_cpu + (_self_cpu() - own0)
        busy_s = (machine1[0] - machine0[0]) / procs.CLK_TCK
        wall_s = (machine1[1] - machine0[1]) / procs.CLK_TCK  # summed over cores
        result["cpu"].update({
            "server_total_s": round(server_cpu, 3),
            "client_total_s": round(client_cpu, 3),
            "machine_busy_s": round(busy_s, 3),
            "other_busy_s": round(max(0.0, busy_s - own), 3),
            "other_busy_share": round(max(0.0, busy_s - own) / wall_s, 3) if wall_s else None,
        })
        result["dropped_streams"] = self.dropped
        result["duplicates"] = self.duplicates
        if hasattr(target, "write_ns") and target.write_ns:
            w = sorted(target.write_ns[1:] or target.write_ns)  # the warm-up write is not counted
            result["floor_write"] = {"per_broadcast_ms_p50": round(percentile(w, 50) / 1e6, 3),
                                     "per_broadcast_ms_max": round(w[-1] / 1e6, 3)}
        result["complete"] = all(result[s].get("complete", True) for s in ("broadcast", "targeted", "burst") if s in result)


def _self_cpu() -> float:
    import os

    t = os.times()
    return t.user + t.system
