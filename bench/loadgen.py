"""The load generator: worker processes that each hold many raw-socket SSE connections.

Each worker is one process running its own epoll loop (no asyncio: fewer allocations per
read, and nothing between the kernel and the timestamp). It opens connections with a
bounded number in flight, reads the response headers, then only watches the bytes for
event markers (`~bench:<key>~`, which the publisher puts in the post title or comment).
Per delivered event it records

- the kernel's receive time (SO_TIMESTAMPNS, CLOCK_REALTIME), so a busy client does not
  inflate latency: the stamp is taken when the bytes reached the socket, not when this
  process got around to reading them;
- its own arrival time (CLOCK_MONOTONIC) after the read, for comparison.

The controller (`ClientPool`, in the harness process) talks to the workers over pipes:
connect, expect (wait until keys have arrived), collect, close, cpu.
"""

from __future__ import annotations

import errno
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

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python 3.11 does not export it
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
ANC_SPACE = socket.CMSG_SPACE(16)
MARK = re.compile(rb"~bench:(\d+)~")
TAIL = 24  # longer than any marker: a marker split across two reads is still seen once
READ_SIZE = 65536

CONNECTING, HEADERS, STREAM, CLOSED = range(4)


def marker(key: int) -> str:
    return f"~bench:{key}~"


class Conn:
    __slots__ = ("buf", "cid", "fd", "keys", "request", "sock", "started", "state", "tail", "uid")

    def __init__(self, sock: socket.socket, cid: int, uid: int, request: bytes) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.cid = cid
        self.uid = uid
        self.request = request
        self.state = CONNECTING
        self.buf = b""
        self.tail = b""
        self.started = time.monotonic_ns()
        self.keys: set[int] | None = None


class Worker:
    def __init__(self, pipe, index: int) -> None:
        self.pipe = pipe
        self.index = index
        self.ep = select.epoll()
        self.ep.register(pipe.fileno(), select.EPOLLIN)
        self.conns: dict[int, Conn] = {}
        self.streams: dict[int, Conn] = {}  # fd -> open stream
        self.pending: deque = deque()
        self.in_flight = 0
        self.connect_op: dict[str, Any] | None = None
        self.counts: dict[int, int] = defaultdict(int)
        self.kern: dict[int, array] = defaultdict(lambda: array("q"))
        self.mono: dict[int, array] = defaultdict(lambda: array("q"))
        self.duplicates = 0
        self.dropped = 0  # streams the server ended while we were listening
        self.expects: list[dict[str, Any]] = []
        self.running = True

    # -- connecting ------------------------------------------------------------------
    def start_connect(self, host: str, port: int, items: list[tuple[int, int, bytes]], window: int, timeout: float) -> None:
        self.connect_op = {
            "host": host, "port": port, "window": window, "todo": len(items), "ok": 0,
            "failed": defaultdict(int), "first_start": None, "last_ready": None,
            "deadline": time.monotonic() + timeout, "ready_times": array("q"),
        }
        self.pending.extend(items)
        self._fill()

    def _fill(self) -> None:
        op = self.connect_op
        while self.pending and self.in_flight < op["window"]:
            cid, uid, request = self.pending.popleft()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            conn = Conn(sock, cid, uid, request)
            if op["first_start"] is None:
                op["first_start"] = conn.started
            err = sock.connect_ex((op["host"], op["port"]))
            if err not in (0, errno.EINPROGRESS):
                sock.close()
                self._connect_done(None, f"connect:{errno.errorcode.get(err, err)}")
                continue
            self.conns[conn.fd] = conn
            self.in_flight += 1
            self.ep.register(conn.fd, select.EPOLLOUT)

    def _connect_done(self, conn: Conn | None, failure: str | None) -> None:
        op = self.connect_op
        op["todo"] -= 1
        if failure is None:
            op["ok"] += 1
            now = time.monotonic_ns()
            op["last_ready"] = now
            op["ready_times"].append(now)
        else:
            op["failed"][failure] += 1
        if conn is not None:
            self.in_flight -= 1
        self._fill()
        if op["todo"] == 0:
            self._reply_connect()

    def _reply_connect(self) -> None:
        op, self.connect_op = self.connect_op, None
        self.pipe.send(("connected", {
            "ok": op["ok"], "failed": dict(op["failed"]), "first_start": op["first_start"],
            "last_ready": op["last_ready"], "ready_times": op["ready_times"], "open": len(self.streams),
        }))

    def _fail(self, conn: Conn, why: str) -> None:
        self._close(conn)
        self._connect_done(conn, why)

    def _close(self, conn: Conn) -> None:
        if conn.state == CLOSED:
            return
        conn.state = CLOSED
        self.conns.pop(conn.fd, None)
        self.streams.pop(conn.fd, None)
        try:
            self.ep.unregister(conn.fd)
        except (OSError, ValueError):
            pass
        conn.sock.close()

    # -- events ------------------------------------------------------------------------
    def on_event(self, conn: Conn, ev: int) -> None:
        state = conn.state
        if state == STREAM:
            self._read_stream(conn)
        elif state == CONNECTING:
            err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._fail(conn, f"connect:{errno.errorcode.get(err, err)}")
                return
            try:
                conn.sock.send(conn.request)
            except OSError as exc:
                self._fail(conn, f"send:{type(exc).__name__}")
                return
            conn.state = HEADERS
            self.ep.modify(conn.fd, select.EPOLLIN)
        elif state == HEADERS:
            try:
                data = conn.sock.recv(READ_SIZE)
            except BlockingIOError:
                return
            except OSError as exc:
                self._fail(conn, f"recv:{type(exc).__name__}")
                return
            if not data:
                self._fail(conn, "closed-before-headers")
                return
            conn.buf += data
            end = conn.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head, rest = conn.buf[:end], conn.buf[end + 4:]
            conn.buf = b""
            status_line = head.split(b"\r\n", 1)[0].split()
            status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
            if status != 200:
                self._fail(conn, f"status:{status}")
                return
            conn.state = STREAM
            conn.keys = set()
            self.streams[conn.fd] = conn
            self._connect_done(conn, None)
            if rest:
                self._scan(conn, rest, time.monotonic_ns(), 0)

    def _read_stream(self, conn: Conn) -> None:
        try:
            data, anc, _flags, _addr = conn.sock.recvmsg(READ_SIZE, ANC_SPACE)
        except BlockingIOError:
            return
        except OSError:
            self.dropped += 1
            self._close(conn)
            return
        now = time.monotonic_ns()
        if not data:
            self.dropped += 1
            self._close(conn)
            return
        kern = 0
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(cdata) >= 16:
                sec, nsec = struct.unpack_from("qq", cdata)
                kern = sec * 1_000_000_000 + nsec
        self._scan(conn, data, now, kern)

    def _scan(self, conn: Conn, data: bytes, now: int, kern: int) -> None:
        tail = conn.tail
        text = tail + data if tail else data
        if b"~bench:" in text:
            skip = len(tail)
            for m in MARK.finditer(text):
                if m.end() <= skip:
                    continue  # counted with the previous read
                key = int(m.group(1))
                if key in conn.keys:
                    self.duplicates += 1
                    continue
                conn.keys.add(key)
                self.counts[key] += 1
                self.mono[key].append(now)
                self.kern[key].append(kern)
        conn.tail = text[-TAIL:]

    # -- expectations ------------------------------------------------------------------
    def check_expects(self, now: float) -> None:
        if not self.expects:
            return
        left = []
        for exp in self.expects:
            n = len(self.streams) if exp["n"] == "all" else exp["n"]
            done = all(self.counts.get(k, 0) >= n for k in exp["keys"])
            if done or now >= exp["deadline"]:
                self.pipe.send(("expect", {
                    "ok": done, "counts": {k: self.counts.get(k, 0) for k in exp["keys"]}, "wanted": n,
                }))
            else:
                left.append(exp)
        self.expects = left

    # -- commands ----------------------------------------------------------------------
    def on_command(self, msg: tuple) -> None:
        op = msg[0]
        if op == "connect":
            _, host, port, items, window, timeout = msg
            if not items:
                self.pipe.send(("connected", {"ok": 0, "failed": {}, "first_start": None, "last_ready": None,
                                              "ready_times": array("q"), "open": len(self.streams)}))
                return
            self.start_connect(host, port, items, window, timeout)
        elif op == "expect":
            _, keys, n, timeout = msg
            self.expects.append({"keys": list(keys), "n": n, "deadline": time.monotonic() + timeout})
            self.check_expects(time.monotonic())
        elif op == "collect":
            _, keys = msg
            out = {}
            for k in keys:
                out[k] = (self.kern.pop(k, array("q")), self.mono.pop(k, array("q")))
                self.counts.pop(k, None)
            self.pipe.send(("collect", {"arrivals": out, "duplicates": self.duplicates, "dropped": self.dropped,
                                        "open": len(self.streams)}))
        elif op == "close":
            closed = len(self.streams)
            for conn in list(self.conns.values()):
                self._close(conn)
            self.pipe.send(("closed", {"closed": closed, "dropped": self.dropped, "duplicates": self.duplicates}))
            self.dropped = 0
            self.duplicates = 0
            self.counts.clear()
            self.kern.clear()
            self.mono.clear()
        elif op == "cpu":
            t = os.times()
            self.pipe.send(("cpu", t.user + t.system))
        elif op == "quit":
            self.running = False
            for conn in list(self.conns.values()):
                self._close(conn)
            self.pipe.send(("bye", None))

    def run(self) -> None:
        pipe_fd = self.pipe.fileno()
        conns = self.conns
        while self.running:
            timeout = 0.05 if (self.expects or self.connect_op) else 1.0
            events = self.ep.poll(timeout, 4096)
            for fd, ev in events:
                if fd == pipe_fd:
                    while self.running and self.pipe.poll():
                        self.on_command(self.pipe.recv())
                    continue
                conn = conns.get(fd)
                if conn is not None:
                    self.on_event(conn, ev)
            now = time.monotonic()
            if self.connect_op is not None and now >= self.connect_op["deadline"]:
                for conn in [c for c in conns.values() if c.state in (CONNECTING, HEADERS)]:
                    self._fail(conn, "timeout")
                    if self.connect_op is None:
                        break
                if self.connect_op is not None:
                    while self.pending:  # never started
                        self.pending.popleft()
                        self._connect_done(None, "timeout")
            self.check_expects(now)


def _worker_main(pipe, index: int) -> None:
    try:
        os.nice(0)
        Worker(pipe, index).run()
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        pass


class ClientPool:
    """N worker processes; commands go to all (or some) workers, replies are gathered."""

    def __init__(self, workers: int) -> None:
        ctx = mp.get_context("spawn")  # a lean process: no app, no SQLAlchemy
        self.pipes = []
        self.procs = []
        for i in range(workers):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(theirs, i), daemon=True, name=f"bench-loadgen-{i}")
            proc.start()
            theirs.close()
            self.pipes.append(ours)
            self.procs.append(proc)

    @property
    def size(self) -> int:
        return len(self.pipes)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def _recv(self, i: int, kind: str, timeout: float):
        pipe = self.pipes[i]
        if not pipe.poll(timeout):
            raise TimeoutError(f"load generator {i} did not answer {kind!r} within {timeout:.0f}s")
        got, payload = pipe.recv()
        if got != kind:
            raise RuntimeError(f"load generator {i} answered {got!r} to {kind!r}")
        return payload

    def call(self, messages: dict[int, tuple], kind: str, timeout: float) -> dict[int, Any]:
        for i, msg in messages.items():
            self.pipes[i].send(msg)
        deadline = time.monotonic() + timeout
        return {i: self._recv(i, kind, max(0.0, deadline - time.monotonic())) for i in messages}

    def broadcast_call(self, msg: tuple, kind: str, timeout: float) -> list[Any]:
        replies = self.call({i: msg for i in range(self.size)}, kind, timeout)
        return [replies[i] for i in range(self.size)]

    def cpu_seconds(self) -> float:
        return sum(self.broadcast_call(("cpu",), "cpu", 10))

    def close(self) -> None:
        for i, pipe in enumerate(self.pipes):
            try:
                pipe.send(("quit",))
                self._recv(i, "bye", 5)
            except (OSError, EOFError, TimeoutError, RuntimeError):
                pass
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        for pipe in self.pipes:
            pipe.close()
        self.pipes, self.procs = [], []

    def __enter__(self) -> ClientPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
