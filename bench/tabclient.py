"""Simulated browser tabs for bench.tabs: one lean process holding thousands of Reflex
websockets (`/_event`), each speaking what a real page sends (learned from Chromium's
frames; bench/tabpage.py records them, bench.tabs compares them in every run):

1. `GET /_event/?token=<client token>&EIO=4&transport=websocket` upgrade, with the
   page's headers: Origin (the page's), `Sec-WebSocket-Protocol: <reflex version>`,
   `Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits` (the server
   declines it: frames stay uncompressed), `Cookie: access_token=<jwt>`;
2. on the engine.io open packet (`0{"sid":…}`), the socket.io CONNECT on `/_event`
   whose auth carries the boot event:
   `40/_event,{"event":{"name":"reflex___state____state.hydrate_and_load",
   "payload":{"hashes":[…]},"router_data":{"pathname":…,"asPath":…[,"query":…]}},
   "state_schema":"…"}`;
3. `3` (pong) for every engine.io ping `2`; a websocket ping gets a pong too.

Client frames are masked (random key, as a browser does); server frames are read
unmasked. No asyncio: one epoll loop, raw non-blocking sockets, nothing between the
kernel and the timestamp. Each read takes the kernel's receive time (SO_TIMESTAMPNS,
CLOCK_REALTIME), so a busy client does not inflate latency.

A toast is recognised in a frame by its message (notifier_app/realtime/events.py): the
publisher's nickname, then, inside the same JSON string, the marker `~bench:<key>~`
that the publisher put in the post title or comment text. The post list and the
comment list carry the title or text in strings of their own, which do not match.
Per tab and key the first such frame's receive time is kept; a frame that holds the
same key's toast twice counts as a duplicate.

The controller (`TabClient`, in the bench process) drives the worker over a pipe.
"""

from __future__ import annotations

import base64
import errno
import json
import multiprocessing as mp
import os
import re
import select
import socket
import struct
import time
from array import array
from collections import defaultdict, deque
from typing import Any

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
ANC_SPACE = socket.CMSG_SPACE(16)
READ_SIZE = 262144
NICK = b"publisher"
# the nickname then the marker inside one JSON string (escaped quotes allowed in between)
TOAST = re.compile(NICK + rb'(?:[^"\\]|\\.){0,80}?~bench:(\d+)~')
HYDRATED = b'"is_hydrated_rx_state_":true'
SUBSCRIBED = b'"status_rx_state_":"connected"'
KEEP_FRAMES = 40  # frames kept (both ways) for the tabs whose frames the controller asks for

TCP, UPGRADE, EIO_OPEN, NS_CONNECT, HYDRATING, LIVE, CLOSED = range(7)


def marker(key: int) -> str:
    return f"~bench:{key}~"


def mask_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One client frame: FIN, the opcode, the mask bit and a random key, the masked payload."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    key = os.urandom(4)
    if n:
        repeated = (key * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")
    else:
        masked = b""
    return head + key + masked


def connect_packet(route: dict[str, Any], page: dict[str, Any]) -> str:
    """The socket.io CONNECT a page sends: what `bootAuth(true)` in Reflex's state.js builds.

    `page`: {"event": the hydrate event's name, "hashes": initialStateHashes, "schema":
    stateSchema}; `route`: router_data ({"pathname", "asPath"[, "query"]})."""
    auth = {"event": {"name": page["event"], "payload": {"hashes": page["hashes"]}, "router_data": route},
            "state_schema": page["schema"]}
    return "40/_event," + json.dumps(auth, separators=(",", ":"), ensure_ascii=False)


def route_for(path: str) -> dict[str, Any]:
    """router_data as the page builds it: `/posts/<id>` also carries its dynamic segment."""
    data: dict[str, Any] = {"pathname": path, "asPath": path}
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "posts" and parts[1].isdigit():
        data["query"] = {"post_id": parts[1]}
    return data


class Tab:
    __slots__ = ("buf", "client_token", "fd", "frames", "hydrated_at", "jwt", "keys", "keep", "out", "path",
                 "request", "sock", "started", "state", "subscribed_at", "tid", "uid")

    def __init__(self, tid: int, uid: int, path: str, jwt: str, client_token: str) -> None:
        self.tid = tid
        self.uid = uid
        self.path = path
        self.jwt = jwt
        self.client_token = client_token
        self.state = TCP
        self.buf = bytearray()
        self.out = b""
        self.keys: set[int] = set()
        self.keep = False
        self.frames: list | None = None
        self.started = 0
        self.hydrated_at = 0
        self.subscribed_at = 0


class Worker:
    def __init__(self, pipe) -> None:
        self.pipe = pipe
        self.ep = select.epoll()
        self.ep.register(pipe.fileno(), select.EPOLLIN)
        self.tabs: dict[int, Tab] = {}  # fd -> tab
        self.by_tid: dict[int, Tab] = {}
        self.pending: deque = deque()
        self.opening = 0  # tabs between TCP connect and hydrated
        self.open_op: dict[str, Any] | None = None
        self.arrivals: dict[int, dict[int, int]] = defaultdict(dict)  # key -> tid -> kernel ns
        self.duplicates: dict[int, int] = defaultdict(int)
        self.dropped = 0
        self.failures: dict[str, int] = defaultdict(int)
        self.last_frame = time.monotonic()
        self.frames_in = 0
        self.expects: list[dict[str, Any]] = []
        self.quiet: dict[str, Any] | None = None
        self.running = True
        self.cfg: dict[str, Any] = {}

    # -- opening ---------------------------------------------------------------------
    def start_open(self, cfg: dict[str, Any], items: list, window: int, timeout: float, keep: set[int]) -> None:
        self.cfg = cfg
        self.open_op = {"todo": len(items), "ok": 0, "window": window, "deadline": time.monotonic() + timeout,
                        "first_start": None, "last_ready": None, "ready": array("q"), "failed": defaultdict(int)}
        for tid, uid, path, jwt, client_token in items:
            tab = Tab(tid, uid, path, jwt, client_token)
            tab.keep = tid in keep
            if tab.keep:
                tab.frames = []
            self.pending.append(tab)
        self._fill()
        if not items:
            self._reply_open()

    def _fill(self) -> None:
        op = self.open_op
        host, port = self.cfg["host"], self.cfg["port"]
        while self.pending and self.opening < op["window"]:
            tab = self.pending.popleft()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            tab.sock = sock
            tab.fd = sock.fileno()
            tab.started = time.monotonic_ns()
            if op["first_start"] is None:
                op["first_start"] = tab.started
            err = sock.connect_ex((host, port))
            if err not in (0, errno.EINPROGRESS):
                sock.close()
                tab.state = CLOSED
                self._opened(tab, f"connect:{errno.errorcode.get(err, err)}", counted=False)
                continue
            self.tabs[tab.fd] = tab
            self.by_tid[tab.tid] = tab
            self.opening += 1
            self.ep.register(tab.fd, select.EPOLLOUT)

    def _request(self, tab: Tab) -> bytes:
        cfg = self.cfg
        key = base64.b64encode(os.urandom(16)).decode()
        host = f"{cfg['host']}:{cfg['port']}"
        return (
            f"GET /_event/?token={tab.client_token}&EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {host}\r\nConnection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n"
            f"User-Agent: {cfg['user_agent']}\r\nUpgrade: websocket\r\nOrigin: {cfg['origin']}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n"
            f"Accept-Language: en-US,en;q=0.9\r\nCookie: access_token={tab.jwt}\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            f"Sec-WebSocket-Protocol: {cfg['subprotocol']}\r\n\r\n"
        ).encode()

    def _opened(self, tab: Tab, failure: str | None, counted: bool = True) -> None:
        op = self.open_op
        if op is None:
            if failure is not None:
                self.failures[failure] += 1
            return
        op["todo"] -= 1
        if counted:
            self.opening -= 1
        if failure is None:
            op["ok"] += 1
            now = time.monotonic_ns()
            op["last_ready"] = now
            op["ready"].append(now - tab.started)
        else:
            op["failed"][failure] += 1
        self._fill()
        if op["todo"] <= 0:
            self._reply_open()

    def _reply_open(self) -> None:
        op, self.open_op = self.open_op, None
        self.pipe.send(("opened", {
            "ok": op["ok"], "failed": dict(op["failed"]), "first_start": op["first_start"],
            "last_ready": op["last_ready"], "ready_ns": op["ready"], "live": self.live_count(),
        }))

    def live_count(self) -> int:
        return sum(1 for t in self.by_tid.values() if t.state in (HYDRATING, LIVE))

    def _fail(self, tab: Tab, why: str) -> None:
        was = tab.state
        self._close(tab)
        if was < LIVE:
            self._opened(tab, why)
        else:
            self.dropped += 1
            self.failures[why] += 1

    def _close(self, tab: Tab) -> None:
        if tab.state == CLOSED:
            return
        tab.state = CLOSED
        self.tabs.pop(tab.fd, None)
        try:
            self.ep.unregister(tab.fd)
        except (OSError, ValueError):
            pass
        tab.sock.close()

    def _send(self, tab: Tab, data: bytes) -> None:
        if tab.out:
            tab.out += data
            return
        try:
            n = tab.sock.send(data)
        except BlockingIOError:
            n = 0
        except OSError as exc:
            self._fail(tab, f"send:{type(exc).__name__}")
            return
        if n < len(data):
            tab.out = data[n:]
            self.ep.modify(tab.fd, select.EPOLLIN | select.EPOLLOUT)

    def _send_text(self, tab: Tab, text: str) -> None:
        if tab.keep and len(tab.frames) < KEEP_FRAMES * 2:
            tab.frames.append(("sent", text))
        self._send(tab, mask_frame(text.encode()))

    # -- reading ----------------------------------------------------------------------
    def on_event(self, tab: Tab, ev: int) -> None:
        if ev & select.EPOLLOUT:
            if tab.state == TCP:
                err = tab.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self._fail(tab, f"connect:{errno.errorcode.get(err, err)}")
                    return
                tab.state = UPGRADE
                self.ep.modify(tab.fd, select.EPOLLIN)
                request = self._request(tab)
                if tab.keep:
                    tab.frames.append(("request", request.decode(errors="replace")))
                self._send(tab, request)
                return
            if tab.out:
                data, tab.out = tab.out, b""
                self._send(tab, data)
                if not tab.out and tab.state != CLOSED:
                    self.ep.modify(tab.fd, select.EPOLLIN)
            if not ev & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                return
        try:
            data, anc, _flags, _addr = tab.sock.recvmsg(READ_SIZE, ANC_SPACE)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail(tab, f"recv:{type(exc).__name__}")
            return
        if not data:
            self._fail(tab, "closed" if tab.state >= LIVE else f"closed-in-{STATE_NAMES[tab.state]}")
            return
        kern = 0
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(cdata) >= 16:
                sec, nsec = struct.unpack_from("qq", cdata)
                kern = sec * 1_000_000_000 + nsec
        buf = tab.buf
        buf += data
        if tab.state == UPGRADE:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[:end + 4]
            status = head.split(b"\r\n", 1)[0].split()
            if len(status) < 2 or status[1] != b"101":
                self._fail(tab, f"upgrade:{status[1].decode() if len(status) > 1 else '?'}")
                return
            if tab.keep:
                tab.frames.append(("upgrade", head.decode(errors="replace")))
            tab.state = EIO_OPEN
        self._frames(tab, kern)

    def _frames(self, tab: Tab, kern: int) -> None:
        buf = tab.buf
        while len(buf) >= 2 and tab.state != CLOSED:
            b0, b1 = buf[0], buf[1]
            n = b1 & 0x7F
            pos = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n = (buf[2] << 8) | buf[3]
                pos = 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n = int.from_bytes(buf[2:10], "big")
                pos = 10
            if b1 & 0x80:  # a masked server frame (not expected): skip the key
                pos += 4
            if len(buf) < pos + n:
                return
            payload = bytes(buf[pos:pos + n])
            del buf[:pos + n]
            opcode = b0 & 0x0F
            if opcode in (0x1, 0x0):
                self._packet(tab, payload, kern)
            elif opcode == 0x9:
                self._send(tab, mask_frame(payload, 0xA))
            elif opcode == 0x8:
                self._fail(tab, "ws-close")

    def _packet(self, tab: Tab, payload: bytes, kern: int) -> None:
        self.frames_in += 1
        if tab.keep and len(tab.frames) < KEEP_FRAMES * 2:
            tab.frames.append(("received", payload.decode(errors="replace")))
        if payload == b"2":  # engine.io ping (every 25 s per tab: not what "quiet" waits out)
            self._send(tab, mask_frame(b"3"))
            return
        self.last_frame = time.monotonic()
        state = tab.state
        if state == LIVE:
            if b"~bench:" in payload:
                self._toasts(tab, payload, kern)
            elif not tab.subscribed_at and SUBSCRIBED in payload:
                tab.subscribed_at = time.monotonic_ns()
            return
        if state == EIO_OPEN:
            if payload[:1] == b"0":
                tab.state = NS_CONNECT
                self._send_text(tab, connect_packet(route_for(tab.path), self.cfg["page"]))
            else:
                self._fail(tab, "no-eio-open")
            return
        if state == NS_CONNECT:
            if payload.startswith(b"40/_event,"):
                tab.state = HYDRATING
            elif payload.startswith(b"44/_event"):
                self._fail(tab, "connect-refused")
                return
        if tab.state == HYDRATING:
            if not tab.subscribed_at and SUBSCRIBED in payload:
                tab.subscribed_at = time.monotonic_ns()
            if HYDRATED in payload:
                tab.state = LIVE
                tab.hydrated_at = time.monotonic_ns()
                self._opened(tab, None)
            if b"~bench:" in payload:
                self._toasts(tab, payload, kern)

    def _toasts(self, tab: Tab, payload: bytes, kern: int) -> None:
        found = TOAST.findall(payload)
        if not found:
            return
        seen = set()
        for raw in found:
            key = int(raw)
            if key in seen:
                self.duplicates[key] += 1  # the same toast twice in one list
                continue
            seen.add(key)
            if key not in tab.keys:
                tab.keys.add(key)
                self.arrivals[key][tab.tid] = kern or time.time_ns()

    # -- expectations --------------------------------------------------------------------
    def check_expects(self) -> None:
        left = []
        now = time.monotonic()
        for exp in self.expects:
            done = all(len(exp["tids"] & self.arrivals[k].keys()) >= len(exp["tids"]) for k in exp["keys"]) \
                if exp["tids"] is not None else \
                all(len(self.arrivals[k]) >= exp["n"] for k in exp["keys"])
            if done or now >= exp["deadline"]:
                self.pipe.send(("expect", {"ok": done, "counts": {k: len(self.arrivals[k]) for k in exp["keys"]}}))
            else:
                left.append(exp)
        self.expects = left
        if self.quiet is not None:
            q = self.quiet
            if now - self.last_frame >= q["quiet"] or now >= q["deadline"]:
                self.pipe.send(("quiet", {"quiet": now - self.last_frame >= q["quiet"],
                                          "waited_s": round(now - q["started"], 2)}))
                self.quiet = None

    # -- commands ------------------------------------------------------------------------
    def on_command(self, msg: tuple) -> None:
        op = msg[0]
        if op == "open":
            _, cfg, items, window, timeout, keep = msg
            self.start_open(cfg, items, window, timeout, set(keep))
        elif op == "expect":
            _, keys, tids, timeout = msg
            n = self.live_count()
            self.expects.append({"keys": list(keys), "tids": set(tids) if tids is not None else None, "n": n,
                                 "deadline": time.monotonic() + timeout})
        elif op == "quiet":
            _, quiet, timeout = msg
            now = time.monotonic()
            self.quiet = {"quiet": quiet, "deadline": now + timeout, "started": now}
        elif op == "collect":
            _, keys = msg
            out = {k: dict(self.arrivals.get(k, {})) for k in keys}
            self.pipe.send(("collect", {"arrivals": out, "duplicates": {k: self.duplicates.get(k, 0) for k in keys},
                                        "dropped": self.dropped, "live": self.live_count(),
                                        "failures": dict(self.failures)}))
        elif op == "tabs":
            self.pipe.send(("tabs", {
                "live": [t.tid for t in self.by_tid.values() if t.state == LIVE],
                "subscribed": sum(1 for t in self.by_tid.values() if t.subscribed_at and t.state == LIVE),
                "hydrating": sum(1 for t in self.by_tid.values() if t.state == HYDRATING),
                "frames_in": self.frames_in,
            }))
        elif op == "frames":
            _, tids = msg
            self.pipe.send(("frames", {tid: list(self.by_tid[tid].frames or []) for tid in tids if tid in self.by_tid}))
        elif op == "close":
            closed = 0
            for tab in list(self.by_tid.values()):
                if tab.state != CLOSED:
                    closed += 1
                    self._close(tab)
            self.tabs.clear()
            self.by_tid.clear()
            self.pending.clear()
            self.arrivals.clear()
            self.duplicates.clear()
            self.failures.clear()
            self.dropped = self.opening = 0
            self.open_op = None
            self.pipe.send(("closed", closed))
        elif op == "cpu":
            t = os.times()
            self.pipe.send(("cpu", t.user + t.system))
        elif op == "quit":
            self.running = False
            for tab in list(self.by_tid.values()):
                self._close(tab)
            self.pipe.send(("bye", None))

    def run(self) -> None:
        pipe_fd = self.pipe.fileno()
        tabs = self.tabs
        last_check = 0.0
        while self.running:
            timeout = 0.01 if (self.expects or self.open_op or self.quiet) else 0.5
            for fd, ev in self.ep.poll(timeout, 4096):
                if fd == pipe_fd:
                    while self.running and self.pipe.poll():
                        self.on_command(self.pipe.recv())
                    continue
                tab = tabs.get(fd)
                if tab is not None:
                    self.on_event(tab, ev)
            now = time.monotonic()
            op = self.open_op
            if op is not None and now >= op["deadline"]:
                for tab in [t for t in self.by_tid.values() if t.state < LIVE]:
                    self._fail(tab, f"timeout-in-{STATE_NAMES[tab.state]}")
                    if self.open_op is None:
                        break
                while self.open_op is not None and self.pending:
                    tab = self.pending.popleft()
                    self._opened(tab, "timeout-not-started", counted=False)
            if now - last_check >= 0.01:
                last_check = now
                self.check_expects()


STATE_NAMES = {TCP: "tcp", UPGRADE: "upgrade", EIO_OPEN: "eio-open", NS_CONNECT: "ns-connect",
               HYDRATING: "hydrating", LIVE: "live", CLOSED: "closed"}


def _worker_main(pipe, cpu: int | None) -> None:
    try:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        Worker(pipe).run()
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        pass


class TabClient:
    """The controller's handle on the tab process (one process: one core's worth of tabs)."""

    def __init__(self, cpu: int | None = None) -> None:
        ctx = mp.get_context("spawn")  # a lean process: no app, no SQLAlchemy
        self.pipe, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(theirs, cpu), daemon=True, name="bench-tabs")
        self.proc.start()
        theirs.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _call(self, msg: tuple, kind: str, timeout: float):
        self.pipe.send(msg)
        if not self.pipe.poll(timeout):
            raise TimeoutError(f"the tab process did not answer {kind!r} within {timeout:.0f}s")
        got, payload = self.pipe.recv()
        if got != kind:
            raise RuntimeError(f"the tab process answered {got!r} to {kind!r}")
        return payload

    def open(self, cfg: dict, items: list, *, window: int, timeout: float, keep: list[int] = ()) -> dict:
        return self._call(("open", cfg, items, window, timeout, list(keep)), "opened", timeout + 30)

    def expect(self, keys: list[int], tids: list[int] | None, timeout: float) -> dict:
        return self._call(("expect", keys, tids, timeout), "expect", timeout + 30)

    def quiet(self, quiet: float, timeout: float) -> dict:
        return self._call(("quiet", quiet, timeout), "quiet", timeout + 30)

    def collect(self, keys: list[int]) -> dict:
        return self._call(("collect", keys), "collect", 60)

    def tabs(self) -> dict:
        return self._call(("tabs",), "tabs", 30)

    def frames(self, tids: list[int]) -> dict:
        return self._call(("frames", tids), "frames", 30)

    def close_tabs(self) -> int:
        return self._call(("close",), "closed", 60)

    def cpu_seconds(self) -> float:
        return self._call(("cpu",), "cpu", 10)

    def close(self) -> None:
        try:
            self._call(("quit",), "bye", 10)
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        self.pipe.close()

    def __enter__(self) -> TabClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
