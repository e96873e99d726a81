"""Browser tabs at scale (issue 20): N simulated tabs on one backend process, and what a
toast costs and takes to reach them.

    python -m bench.tabs                        # N = 100, 1,000, 5,000, 10,000 (< 10 minutes)
    python -m bench.tabs --sizes 100,1000       # anything smaller
    python -m bench.tabs --redis                # state in Redis, two granian workers
    python -m bench.tabs --ours-project DIR     # the server from another copy of the project

The server: `reflex run --env prod --backend-only`, one granian worker (two with
--redis), a scratch SQLite database, started per size like bench/targets.py OursTarget,
pinned to CPU 0 (`taskset`); this process and the tab process to CPU 1. Accounts come
from bench.seed (no argon2); two tabs per user, one on `/` and one on `/posts/<id>`
(spread over 20 posts); the publisher (user 1) has no tab open.

The tabs (bench/tabclient.py) speak what a real page sends on its websocket; the first
size also opens one real Chromium tab on the exported frontend (bench/tabpage.py) and
checks that its CONNECT packet equals a simulated tab's, that the first frames the
server sends each have the same shape, and that the real tab shows the broadcast toast
too. A tab is held once the server sent it `is_hydrated: true`.

Per size: tabs held, open rate (tabs/s from the first connect to the last hydrated),
server RSS per tab (growth over the freshly started server), idle server CPU over 10 s,
a broadcast (a post by the publisher): toast latency first / p50 / p99 / last tab, ten
posts one second apart (p99 over all), targeted comments on posts of users with tabs
open (alone, then sent right after a broadcast), and for every toast how many tabs
missed it or saw it twice. Latency = kernel receive time of the first frame holding
the toast minus the start of the publish request.

Writes bench/results/tabs-<date>.json (+ .png) and prints a table.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import procs
from bench.tabclient import TabClient, marker

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_SIZES = [100, 1_000, 5_000, 10_000]
SERVER_CPU, CLIENT_CPU = 0, 1
FEED_POSTS = 20
TARGET_USERS = 4


class Params:
    def __init__(self, **over: Any) -> None:
        self.idle_s = 10.0  # idle CPU window
        self.series = 10  # posts in a row
        self.series_gap = 1.0
        self.targeted = 20  # comments, one at a time
        self.during = 3  # comment right after a broadcast, rounds
        self.window = 100  # tabs opening at once
        self.broadcast_timeout = 60.0
        for k, v in over.items():
            setattr(self, k, v)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(ms: list[float], expected: int) -> dict[str, Any]:
    r = lambda v: None if v is None else round(v, 1)  # noqa: E731
    return {"n": len(ms), "expected": expected, "missing": max(0, expected - len(ms)),
            "first_ms": r(min(ms, default=None)), "p50_ms": r(percentile(ms, 0.5)),
            "p99_ms": r(percentile(ms, 0.99)), "last_ms": r(max(ms, default=None))}


class PinnedServer:
    """tests/support/server.AppServer, started under `taskset -c <cpu>`."""

    def __new__(cls, *args, cpu: int, **kwargs):
        from tests.support.server import AppServer

        class _Pinned(AppServer):
            def command(self) -> list[str]:
                return ["taskset", "-c", str(cpu), *super().command()]

        return _Pinned(*args, **kwargs)


class Run:
    """One size: a fresh server, its tabs, the scenarios."""

    def __init__(self, size: int, p: Params, *, boot: dict, site_root: Path | None, redis: bool,
                 project: Path | None, say, deadline: float) -> None:
        self.size = size
        self.p = p
        self.boot = boot
        self.site_root = site_root
        self.redis = redis
        self.project = project
        self.say = say
        self.deadline = deadline
        self.key = 0
        self.owner: dict[int, int] = {}  # comment key -> the post author's id
        self.server = self.redis_server = self.site = self.real = None
        self.scratch = tempfile.mkdtemp(prefix="notifier-tabs-")

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def next_key(self) -> int:
        self.key += 1
        return self.key

    # -- set-up -------------------------------------------------------------------------
    def start(self) -> None:
        from bench.targets import Publisher, seed_accounts
        from bench.tabpage import Site

        users = math.ceil(self.size / 2) + (1 if self.site_root else 0)
        db_url = f"sqlite:///{self.scratch}/bench.db"
        self.accounts = seed_accounts(users, db_url=db_url)
        env = {"GRANIAN_WORKERS": "1", "NOTIFIER_HEARTBEAT_SECONDS": "15"}
        if self.redis:
            from tests.support.redis_server import RedisServer

            self.redis_server = RedisServer().start()
            os.sched_setaffinity(self.redis_server.process.pid, {SERVER_CPU})
            env.update(REFLEX_REDIS_URL=self.redis_server.url, GRANIAN_WORKERS="2")
        extra = {"project_dir": self.project} if self.project else {}
        self.server = PinnedServer(db_url=db_url, backend_only=True, env=env, name=f"tabs-{self.size}",
                                   cpu=SERVER_CPU, **extra)
        self.site = Site(self.site_root) if self.site_root else None
        self.origin = self.site.url if self.site else self.server.url
        self.server.extra_env["REFLEX_CORS_ALLOWED_ORIGINS"] = f"{self.origin},{self.server.url}"
        self.server.start(timeout=180)
        if self.site:
            self.site.start(self.server.url)
        self.publisher = Publisher(self.server.port, self.accounts["publisher"][1])
        self.feed_posts = [self.publisher.post("/api/posts", {"title": f"feed post {i}", "body": "bench"})[2]["id"]
                           for i in range(FEED_POSTS)]
        self.users = [tuple(u) for u in self.accounts["users"]]
        self.real_user = self.users.pop() if self.site_root else None
        self.targets = []  # (uid, post id) of users whose post gets the comments
        for uid, token in self.users[:TARGET_USERS]:
            author = Publisher(self.server.port, token)
            try:
                self.targets.append((uid, author.post("/api/posts", {"title": f"by b{uid}", "body": "x"})[2]["id"]))
            finally:
                author.close()
        target_post = dict(self.targets)
        self.items = []  # (tid, uid, path, jwt, client token)
        for i, (uid, token) in enumerate(self.users):
            if len(self.items) >= self.size:
                break
            second = f"/posts/{target_post.get(uid) or self.feed_posts[i % FEED_POSTS]}"
            for path in ("/", second)[: self.size - len(self.items)]:
                self.items.append((len(self.items), uid, path, token, str(uuid.uuid4())))
        self.tabs_of = {}
        for tid, uid, *_ in self.items:
            self.tabs_of.setdefault(uid, []).append(tid)
        self.pids = self.server_pids()
        time.sleep(1.0)
        self.baseline = procs.snapshot(self.pids)

    def server_pids(self) -> list[int]:
        pids = procs.group_pids(self.server.process.pid)
        if self.redis_server is not None:
            pids.append(self.redis_server.process.pid)
        return pids

    def stop(self) -> None:
        for closer in (lambda: self.real and self.real.close(), lambda: self.publisher.close(),
                       lambda: self.site and self.site.stop(), lambda: self.server and self.server.stop(),
                       lambda: self.redis_server and self.redis_server.stop()):
            try:
                closer()
            except Exception as exc:  # noqa: BLE001 - teardown goes on
                self.say(f"  (teardown: {exc!r})")
        shutil.rmtree(self.scratch, ignore_errors=True)

    # -- scenarios ---------------------------------------------------------------------
    def run(self, client: TabClient) -> dict[str, Any]:
        out: dict[str, Any] = {"tabs": self.size, "machine_busy_before": round(procs.busy_fraction(1.0), 3)}
        self.t0 = time.monotonic()
        ticks0, server0, client0, own0 = procs.cpu_ticks()[0], procs.snapshot(self.pids)["cpu_s"], \
            client.cpu_seconds(), sum(os.times()[:2])
        try:
            self.scenarios(client, out)
        finally:
            # what other processes (and this run's Chromium) used meanwhile, in cores: a disturbed run says so
            took = time.monotonic() - self.t0
            busy = (procs.cpu_ticks()[0] - ticks0) / procs.CLK_TCK
            ours = procs.snapshot(self.pids)["cpu_s"] - server0 + client.cpu_seconds() - client0 \
                + sum(os.times()[:2]) - own0
            out["other_cpu_cores"] = round(max(0.0, busy - ours) / max(1e-3, took), 2)
        return out

    def scenarios(self, client: TabClient, out: dict[str, Any]) -> None:
        if self.site:
            from bench.tabpage import RealTab

            self.say("  a real Chromium tab on / ...")
            self.real = RealTab(self.site.url, self.server.url, self.real_user[1]).open("/")
            self.real.wait_for(lambda: any('"is_hydrated_rx_state_":true' in f for _, f in self.real.received), 30)
        cfg = {"host": "127.0.0.1", "port": self.server.port, "origin": self.origin, "page": self.boot,
               "subprotocol": reflex_version(), "user_agent": USER_AGENT}
        keep = [self.items[0][0]] + [t[0] for t in self.items if t[2] != "/"][:1]
        open_timeout = max(30.0, min(self.size / 20, 200.0, self.left() - 60))
        self.say(f"  opening {self.size:,} tabs (at most {open_timeout:.0f} s)")
        cpu0 = procs.snapshot(self.pids)["cpu_s"]
        opened = client.open(cfg, self.items, window=self.p.window, timeout=open_timeout, keep=keep)
        span = ((opened["last_ready"] or 0) - (opened["first_start"] or 0)) / 1e9
        ready_ms = sorted(v / 1e6 for v in opened["ready_ns"])
        out["open"] = {
            "held": opened["ok"], "failed": opened["failed"], "seconds": round(span, 2),
            "tabs_per_s": round(opened["ok"] / span, 1) if span > 0 else None,
            "open_p50_ms": round(percentile(ready_ms, 0.5), 1) if ready_ms else None,
            "open_p99_ms": round(percentile(ready_ms, 0.99), 1) if ready_ms else None,
            "server_cpu_ms_per_tab": round(
                (procs.snapshot(self.pids)["cpu_s"] - cpu0) * 1000 / max(1, opened["ok"]), 2),
        }
        self.say(f"  held {opened['ok']:,} in {span:.1f} s ({out['open']['tabs_per_s']} /s); failed {opened['failed']}")
        quiet = client.quiet(2.0, min(60.0, max(5.0, self.left() - 30)))
        state = client.tabs()
        out["open"]["settled"] = quiet
        out["open"]["subscribed"] = state["subscribed"]
        self.live = state["live"]
        snap = procs.snapshot(self.pids)
        held = max(1, len(self.live))
        out["memory"] = {"baseline_rss_kb": self.baseline["rss_kb"], "rss_kb": snap["rss_kb"],
                         "kb_per_tab": round((snap["rss_kb"] - self.baseline["rss_kb"]) / held, 1)}
        # idle: nothing published, every tab open
        cpu0, t0, c0 = snap["cpu_s"], time.monotonic(), client.cpu_seconds()
        time.sleep(self.p.idle_s)
        dt = time.monotonic() - t0
        server_cpu = procs.snapshot(self.pids)["cpu_s"] - cpu0
        out["idle"] = {"seconds": round(dt, 1), "server_cpu_cores": round(server_cpu / dt, 3),
                       "client_cpu_cores": round((client.cpu_seconds() - c0) / dt, 3)}
        self.say(f"  RSS {out['memory']['kb_per_tab']} KB/tab; idle server CPU {out['idle']['server_cpu_cores']} core")
        out["validation"] = self.validate_frames(client, keep) if self.real else None
        # warm-up: every tab's notification task is subscribed once it has this one
        out["warmup"] = self.broadcast(client, "warm-up")
        out["broadcast"] = self.broadcast(client, "broadcast", real=bool(self.real))
        out["series"] = self.series(client) if self.left() > 30 else {"skipped": "time"}
        out["targeted"] = self.targeted(client) if self.left() > 15 else {"skipped": "time"}
        out["targeted_during_broadcast"] = self.during(client) if self.left() > 30 else {"skipped": "time"}
        out["client_cpu_s"] = round(client.cpu_seconds(), 1)
        final = client.collect([])
        out["dropped_tabs"], out["failures_after_open"] = final["dropped"], final["failures"]
        out["complete"] = all(
            isinstance(out[s], dict) and out[s].get("missing", 1) == 0 and out[s].get("duplicates", 1) == 0
            for s in ("broadcast", "series")) and out["targeted"].get("missing") == 0

    def _deliveries(self, client: TabClient, keys: list[int], starts: dict[int, int], tids: list[int] | None,
                    timeout: float) -> tuple[list[float], dict]:
        client.expect(keys, tids, max(1.0, min(timeout, self.left())))
        got = client.collect(keys)
        wanted = set(tids) if tids is not None else set(self.live)
        ms = []
        for k in keys:
            for tid, kern in got["arrivals"][k].items():
                if tid in wanted:
                    ms.append((kern - starts[k]) / 1e6)
        return ms, got

    def broadcast(self, client: TabClient, label: str, real: bool = False) -> dict[str, Any]:
        key = self.next_key()
        mono, real_ns, _ = self.publisher.post("/api/posts", {"title": f"bench {marker(key)}", "body": "bench"})
        ms, got = self._deliveries(client, [key], {key: real_ns}, None, self.p.broadcast_timeout)
        result = summary(ms, len(self.live))
        result["duplicates"] = got["duplicates"][key]
        if real:
            result["real_tab"] = self.real_toast(key, mono)
        self.say(f"  {label}: first/p50/p99/last {result['first_ms']}/{result['p50_ms']}/{result['p99_ms']}/"
                 f"{result['last_ms']} ms; missing {result['missing']}, duplicates {result['duplicates']}")
        client.quiet(1.0, min(30.0, max(1.0, self.left() - 20)))
        return result

    def real_toast(self, key: int, mono: int) -> dict[str, Any]:
        text = marker(key)
        seen = self.real.wait_for(lambda: any(text in t for t in self.real.toast_texts()), 20)
        frames = [ts for ts, f in self.real.received if text in f and "publisher" in f]
        return {"toast_shown": seen,
                "frame_ms": round((frames[0] * 1e9 - mono) / 1e6, 1) if frames else None}

    def series(self, client: TabClient) -> dict[str, Any]:
        keys, starts = [], {}
        t0 = time.monotonic()
        for i in range(self.p.series):
            time.sleep(max(0.0, t0 + i * self.p.series_gap - time.monotonic()))
            key = self.next_key()
            starts[key] = self.publisher.post("/api/posts", {"title": f"bench {marker(key)}", "body": "b"})[1]
            keys.append(key)
        ms, got = self._deliveries(client, keys, starts, None, self.p.broadcast_timeout + 10)
        result = summary(ms, len(self.live) * len(keys))
        result["posts"] = len(keys)
        result["duplicates"] = sum(got["duplicates"].values())
        result["per_post_last_ms"] = [round(max([(kern - starts[k]) / 1e6 for kern in got["arrivals"][k].values()],
                                                default=0), 1) for k in keys]
        self.say(f"  {len(keys)} posts {self.p.series_gap:g} s apart: p50/p99/last {result['p50_ms']}/"
                 f"{result['p99_ms']}/{result['last_ms']} ms; missing {result['missing']}")
        client.quiet(1.0, min(30.0, max(1.0, self.left() - 20)))
        return result

    def comment(self, client: TabClient, i: int) -> tuple[int, int, list[int]]:
        uid, post_id = self.targets[i % len(self.targets)]
        key = self.next_key()
        self.owner[key] = uid
        real_ns = self.publisher.post(f"/api/posts/{post_id}/comments", {"content": f"{marker(key)} bench comment"})[1]
        return key, real_ns, [t for t in self.tabs_of.get(uid, []) if t in self.live_set]

    def targeted(self, client: TabClient) -> dict[str, Any]:
        self.live_set = set(self.live)
        ms, others, expected, keys = [], 0, 0, []
        for i in range(self.p.targeted):
            if self.left() < 10:
                break
            key, start, tids = self.comment(client, i)
            keys.append(key)
            got_ms, got = self._deliveries(client, [key], {key: start}, tids, 10.0)
            ms += got_ms
            expected += len(tids)
            time.sleep(0.05)
        time.sleep(0.3)  # anything that would reach others has by now
        got = client.collect(keys)
        for k in keys:
            others += sum(1 for tid in got["arrivals"][k] if tid not in self.tabs_of.get(self.owner[k], []))
        result = summary(ms, expected)
        result["comments"] = len(keys)
        result["delivered_to_others"] = others
        self.say(f"  targeted ({len(keys)} comments): p50/p99/last {result['p50_ms']}/{result['p99_ms']}/"
                 f"{result['last_ms']} ms; missing {result['missing']}, to others {others}")
        return result

    def during(self, client: TabClient) -> dict[str, Any]:
        self.live_set = set(self.live)
        comment_ms, broadcast_last, expected, missing_b = [], [], 0, 0
        rounds = 0
        for i in range(self.p.during):
            if self.left() < 20:
                break
            bkey = self.next_key()
            bstart = self.publisher.post("/api/posts", {"title": f"bench {marker(bkey)}", "body": "b"})[1]
            ckey, cstart, tids = self.comment(client, i)
            got_ms, _ = self._deliveries(client, [ckey], {ckey: cstart}, tids, 30.0)
            comment_ms += got_ms
            expected += len(tids)
            b_ms, _ = self._deliveries(client, [bkey], {bkey: bstart}, None, self.p.broadcast_timeout)
            broadcast_last.append(round(max(b_ms, default=0), 1))
            missing_b += len(self.live) - len(b_ms)
            rounds += 1
            client.quiet(1.0, min(20.0, max(1.0, self.left() - 20)))
        result = summary(comment_ms, expected)
        result.update(rounds=rounds, broadcast_last_ms=broadcast_last, broadcast_missing=missing_b)
        self.say(f"  targeted during a broadcast ({rounds} rounds): p50/p99/last {result['p50_ms']}/{result['p99_ms']}/"
                 f"{result['last_ms']} ms (broadcasts' last tab {broadcast_last} ms)")
        return result

    def validate_frames(self, client: TabClient, keep: list[int]) -> dict[str, Any]:
        sim = client.frames(keep).get(keep[0], [])
        self.real.wait_for(lambda: False, 0.5)  # Playwright hands over the frames it holds while called
        real_sent = [f for _, f in self.real.sent]
        real_recv = [f for _, f in self.real.received]
        sim_sent = [f for kind, f in sim if kind == "sent"]
        sim_recv = [f for kind, f in sim if kind == "received"]
        real_connect = next((f for f in real_sent if f.startswith("40/_event")), None)
        sim_connect = next((f for f in sim_sent if f.startswith("40/_event")), None)
        real_recv, sim_recv = [f for f in real_recv if f not in ("2", "3")], \
            [f for f in sim_recv if f not in ("2", "3")]
        n = min(len(real_recv), len(sim_recv), 4)  # engine.io open, namespace ack, the two hydrate deltas
        real_shapes, sim_shapes = [shape(f) for f in real_recv], [shape(f) for f in sim_recv]
        # after those, the page's on_load work sends its deltas concurrently: their order and
        # grouping vary with load, so what is compared is which vars of which states they set
        real_vars, sim_vars = delta_vars(real_shapes), delta_vars(sim_shapes)
        headers = {k.lower() for k in (self.real.handshake or {}).get("headers", {})}
        upgrade = next((f for kind, f in sim if kind == "upgrade"), "")
        request = next((f for kind, f in sim if kind == "request"), "")
        sim_headers = {line.split(":", 1)[0].lower() for line in request.split("\r\n")[1:] if ":" in line}
        result = {
            "real_connect_packet": real_connect,
            "connect_packet_equal": real_connect is not None and _json_tail(real_connect) == _json_tail(sim_connect),
            "first_frames_compared": n,
            "first_frames_same_shape": n >= 4 and real_shapes[:n] == sim_shapes[:n],
            "boot_vars_equal": bool(real_vars) and real_vars == sim_vars,
            "boot_vars_only_real": sorted(real_vars - sim_vars),
            "boot_vars_only_simulated": sorted(sim_vars - real_vars),
            "real_first_frames": real_shapes, "simulated_first_frames": sim_shapes,
            "real_handshake_url": (self.real.handshake or {}).get("url"),
            "real_handshake_headers": sorted(headers),
            # DevTools shows the handshake without its Cookie header; the server reads the cookie there
            "handshake_headers_equal": bool(headers) and headers == sim_headers - {"cookie"},
            "simulated_request": request.split("\r\n"),
            "server_upgrade_response": upgrade.split("\r\n"),
        }
        self.say(f"  real tab vs simulated: CONNECT equal {result['connect_packet_equal']}, first {n} frames "
                 f"same shape {result['first_frames_same_shape']}, same vars set before the first toast "
                 f"{result['boot_vars_equal']}, handshake headers equal {result['handshake_headers_equal']}")
        return result


def _json_tail(packet: str | None) -> Any:
    if not packet:
        return None
    return json.loads(packet[packet.index(","):][1:]) if "," in packet else packet


def delta_vars(shapes: list) -> set[str]:
    """Every `state.var` the deltas among `shapes` set."""
    found = set()
    for sh in shapes:
        if isinstance(sh, list) and len(sh) == 3 and isinstance(sh[2], dict):
            found |= {f"{state}.{var}" for state, names in sh[2].items() for var in names}
    return found


def shape(frame: str) -> Any:
    """A frame without its values: engine.io/socket.io prefix and, for a delta, the states
    and var names it sets."""
    cut = min([i for i in (frame.find("{"), frame.find("[")) if i >= 0], default=len(frame))
    prefix, body = frame[:cut], frame[cut:]
    if not body:
        return prefix
    try:
        data = json.loads(body)
    except ValueError:
        return prefix + "?"
    if isinstance(data, list) and len(data) == 2 and isinstance(data[1], dict) and "delta" in data[1]:
        return [prefix, data[0], {s: sorted(v) for s, v in sorted(data[1]["delta"].items())}]
    if isinstance(data, dict):
        return [prefix, sorted(data)]
    return [prefix, type(data).__name__]


USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 "
              "Safari/537.36")


def reflex_version() -> str:
    from importlib.metadata import version

    return version("reflex")


def run_tabs(sizes: list[int], *, params: Params | None = None, browser: bool = True, redis: bool = False,
             project: Path | None = None, budget_s: float = 330.0, total_s: float = 570.0,
             say=print) -> dict[str, Any]:
    """Every size in turn (a fresh server each); no size starts after `budget_s`, and each
    is cut to what is left of `total_s`. Returns the results document."""
    from bench.tabpage import app_boot, exported_site, page_boot

    started = time.monotonic()
    p = params or Params()
    boot = app_boot(project or PROJECT_ROOT)  # what the compiled page sends, from the state classes
    site_root = None
    if browser:  # the exported page's own values must be the same
        site_root = exported_site(project or PROJECT_ROOT, say=say)
        exported = page_boot(site_root)
        if exported != boot:
            say(f"the exported page's boot values differ from the app's: using the page's ({exported})")
        boot = {**exported, "equal_to_app_computed": exported == boot}
    runs, skipped = [], []
    with TabClient(cpu=CLIENT_CPU) as client:
        for i, size in enumerate(sizes):
            elapsed = time.monotonic() - started
            if elapsed > budget_s:
                skipped.append(size)
                say(f"N={size:,}: skipped (the run is {elapsed:.0f} s old)")
                continue
            deadline = started + total_s
            say(f"N={size:,} tabs{' (Redis, 2 workers)' if redis else ''}")
            run = Run(size, p, boot=boot, site_root=site_root if i == 0 else None, redis=redis,
                      project=project, say=say, deadline=deadline)
            t0 = time.monotonic()
            try:
                run.start()
                result = run.run(client)
            except Exception as exc:  # noqa: BLE001 - one size's failure is a result too
                result = {"tabs": size, "error": f"{type(exc).__name__}: {exc}"}
                say(f"  error: {result['error']}")
            finally:
                try:
                    client.close_tabs()
                except (TimeoutError, RuntimeError, OSError) as exc:
                    say(f"  (closing tabs: {exc!r})")
                run.stop()
            result["wall_s"] = round(time.monotonic() - t0, 1)
            result["redis"] = redis
            runs.append(result)
    return {"runs": runs, "skipped_sizes": skipped, "wall_s": round(time.monotonic() - started, 1),
            "page_boot": boot}


PROJECT_ROOT = Path(__file__).resolve().parents[1]
LOCK = Path(tempfile.gettempdir()) / "notifier-bench-tabs.lock"


def exclusive(path: Path, wait_s: float) -> dict[str, Any]:
    """Holds an exclusive lock on `path` for this process's life (one bench.tabs run at a
    time: each pins its server and its tabs to the same two CPUs); waits at most `wait_s`."""
    handle = open(path, "a")  # noqa: SIM115 - kept open (and locked) until the process ends
    started = time.monotonic()
    said = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
            break
        except BlockingIOError:
            if time.monotonic() - started >= wait_s:
                held = False
                print(f"another bench.tabs run still holds {path} after {wait_s:.0f} s: running beside it")
                break
            if not said:
                print(f"waiting (at most {wait_s:.0f} s) for another bench.tabs run to finish ({path})")
                said = True
            time.sleep(1.0)
    exclusive.handle = handle  # type: ignore[attr-defined]
    return {"held": held, "waited_s": round(time.monotonic() - started, 1)}


def table(runs: list[dict]) -> str:
    def g(run, *path, fmt="{:,.0f}"):
        v = run
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        return "—" if v is None else fmt.format(v)

    rows = [("tabs", lambda r: g(r, "tabs")),
            ("held", lambda r: g(r, "open", "held")),
            ("opened per s", lambda r: g(r, "open", "tabs_per_s", fmt="{:,.1f}")),
            ("KB per tab (RSS)", lambda r: g(r, "memory", "kb_per_tab", fmt="{:,.1f}")),
            ("idle server CPU (cores)", lambda r: g(r, "idle", "server_cpu_cores", fmt="{:.3f}")),
            ("broadcast first (ms)", lambda r: g(r, "broadcast", "first_ms", fmt="{:,.1f}")),
            ("broadcast p50 (ms)", lambda r: g(r, "broadcast", "p50_ms", fmt="{:,.1f}")),
            ("broadcast p99 (ms)", lambda r: g(r, "broadcast", "p99_ms", fmt="{:,.1f}")),
            ("broadcast last (ms)", lambda r: g(r, "broadcast", "last_ms", fmt="{:,.1f}")),
            ("10 posts 1 s apart p99 (ms)", lambda r: g(r, "series", "p99_ms", fmt="{:,.1f}")),
            ("targeted p50 / p99 (ms)", lambda r: f"{g(r, 'targeted', 'p50_ms', fmt='{:,.1f}')} / "
                                                  f"{g(r, 'targeted', 'p99_ms', fmt='{:,.1f}')}"),
            ("targeted during broadcast p99 (ms)",
             lambda r: g(r, "targeted_during_broadcast", "p99_ms", fmt="{:,.1f}")),
            ("other processes' CPU (cores)", lambda r: g(r, "other_cpu_cores", fmt="{:.2f}")),
            ("missed toasts (bcast/series/targeted)",
             lambda r: f"{g(r, 'broadcast', 'missing')}/{g(r, 'series', 'missing')}/{g(r, 'targeted', 'missing')}")]
    width = max(len(name) for name, _ in rows) + 2
    lines = []
    for name, get in rows:
        lines.append(name.ljust(width) + "".join(get(r).rjust(14) for r in runs))
    return "\n".join(lines)


def plot(runs: list[dict], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in runs if "broadcast" in r]
    sizes = [r["tabs"] for r in ok]
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    for key, label in (("first_ms", "first tab"), ("p50_ms", "p50"), ("p99_ms", "p99"), ("last_ms", "last tab")):
        a.plot(sizes, [(r["broadcast"].get(key) or float("nan")) / 1000 for r in ok], marker="o", label=label)
    a.plot(sizes, [(r.get("series", {}).get("p99_ms") or float("nan")) / 1000 for r in ok], marker="s",
           linestyle="--", label="10 posts 1 s apart: p99")
    a.set(xscale="log", yscale="log", xlabel="open tabs", ylabel="toast latency (s)", title="broadcast toast")
    a.grid(True, which="both", alpha=0.3)
    a.legend()
    b.plot(sizes, [r["memory"]["kb_per_tab"] for r in ok], marker="o", color="tab:purple", label="KB per tab (RSS)")
    b.set(xscale="log", xlabel="open tabs", ylabel="KB per tab", title="server cost per tab")
    b2 = b.twinx()
    b2.plot(sizes, [r["idle"]["server_cpu_cores"] for r in ok], marker="^", color="tab:red", label="idle CPU (cores)")
    b2.set_ylabel("idle server CPU (cores)")
    b.legend(loc="upper left")
    b2.legend(loc="upper right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    from bench.cli import meta

    parser = argparse.ArgumentParser(prog="python -m bench.tabs", description="browser tabs at scale (issue 20)")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated tab counts")
    parser.add_argument("--redis", action="store_true", help="Redis state manager, GRANIAN_WORKERS=2")
    parser.add_argument("--no-browser", action="store_true", help="skip the real Chromium tab")
    parser.add_argument("--ours-project", type=Path, metavar="DIR", help="run the server from this copy")
    parser.add_argument("--window", type=int, default=100, help="tabs opening at once")
    parser.add_argument("--budget", type=float, default=330.0, help="start no size after this many seconds")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", help="results file stem (default tabs-<date>[-redis])")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--wait-for-other", type=float, default=600.0, metavar="S",
                        help="wait this long for another bench.tabs run on this machine to finish (both pin CPUs)")
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {CLIENT_CPU})  # this process, and the Chromium it starts
    lock = exclusive(LOCK, args.wait_for_other)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    results = run_tabs(sizes, params=Params(window=args.window), browser=not args.no_browser, redis=args.redis,
                       project=args.ours_project, budget_s=args.budget)
    doc = {"meta": meta(sizes=sizes, redis=args.redis, ours_project=str(args.ours_project or ""),
                        waited_for_other_run_s=lock["waited_s"], ran_beside_other_run=not lock["held"],
                        pinning={"server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU},
                        latency="publish request start -> kernel receive time of the first frame with the toast"),
           **results}
    doc["meta"]["command"] = "python -m bench.tabs " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.ours_project:
        doc["meta"]["git_dirty"] = None  # the server ran from another copy
    stem = args.name or f"tabs-{datetime.now().strftime('%Y-%m-%d')}{'-redis' if args.redis else ''}"
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / f"{stem}.json"
    json_path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    png = None
    if not args.no_plot:
        try:
            png = plot(results["runs"], args.out / f"{stem}.png",
                       f"notifier: browser tabs on one backend process{' (Redis, 2 workers)' if args.redis else ''}"
                       f" — {doc['meta']['date']}, commit {doc['meta']['git_commit']}")
        except ImportError:
            print("matplotlib is not installed (pip install -e '.[bench]'): no PNG")
    print()
    print(table(results["runs"]))
    for run in results["runs"]:
        if "error" in run:
            print(f"  N={run['tabs']}: {run['error']}")
        v = run.get("validation")
        if v:
            print(f"  real tab: CONNECT equal {v['connect_packet_equal']}, first frames same shape "
                  f"{v['first_frames_same_shape']}, same vars before the first toast {v['boot_vars_equal']}, "
                  f"handshake headers equal {v['handshake_headers_equal']}, toast {run['broadcast'].get('real_tab')}")
    print(f"\nwrote {json_path}" + (f" and {png}" if png else "") + f" in {results['wall_s']:.0f} s")
    return 0 if all("error" not in r for r in results["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
