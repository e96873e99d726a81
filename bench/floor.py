"""The floor: one process doing nothing but writing the same bytes to C local sockets.

It answers every connection with SSE response headers (so the same load generator reads
it), keeps the sockets in a list, and on command writes a frame to every one of them in a
tight loop — no HTTP framework, no registry, no per-connection task. The time that loop
takes is the least any single-process server on this machine can spend on a broadcast.
"""

from __future__ import annotations

import multiprocessing as mp
import select
import socket
import time
from typing import Any

HEADERS = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\n"
    b"x-accel-buffering: no\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n"
)
RETRY = b"retry: 5000\n\n"


def chunk(data: bytes) -> bytes:
    """HTTP/1.1 chunked framing, as the real servers send a streamed body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _serve(pipe, listener: socket.socket) -> None:
    listener.setblocking(False)
    ep = select.epoll()
    ep.register(listener.fileno(), select.EPOLLIN)
    ep.register(pipe.fileno(), select.EPOLLIN)
    pending: dict[int, tuple[socket.socket, bytes]] = {}
    streams: list[socket.socket] = []
    accepted = 0
    short_writes = 0
    running = True
    while running:
        for fd, _ev in ep.poll(1.0, 4096):
            if fd == listener.fileno():
                while True:
                    try:
                        sock, _ = listener.accept()
                    except BlockingIOError:
                        break
                    sock.setblocking(False)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    pending[sock.fileno()] = (sock, b"")
                    ep.register(sock.fileno(), select.EPOLLIN)
            elif fd == pipe.fileno():
                while pipe.poll():
                    msg = pipe.recv()
                    op = msg[0]
                    if op == "broadcast":
                        frames: list[bytes] = msg[1]
                        started = time.perf_counter_ns()
                        for data in frames:
                            for sock in streams:
                                try:
                                    if sock.send(data) != len(data):
                                        short_writes += 1
                                except OSError:
                                    short_writes += 1
                        pipe.send(("broadcast", {"write_ns": time.perf_counter_ns() - started, "sockets": len(streams)}))
                    elif op == "status":
                        pipe.send(("status", {"streams": len(streams), "accepted": accepted, "short_writes": short_writes}))
                    elif op == "close":
                        for sock in streams:
                            sock.close()
                        streams.clear()
                        pipe.send(("close", None))
                    elif op == "quit":
                        running = False
            else:
                sock, buf = pending[fd]
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    ep.unregister(fd)
                    del pending[fd]
                    sock.close()
                    continue
                buf += data
                if b"\r\n\r\n" not in buf:
                    pending[fd] = (sock, buf)
                    continue
                ep.unregister(fd)  # from now on we only write (a closed client is noticed by send)
                del pending[fd]
                sock.send(HEADERS + chunk(RETRY))
                streams.append(sock)
                accepted += 1
    for sock in streams:
        sock.close()
    listener.close()


def _main(pipe, port: int) -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(4096)
    pipe.send(("ready", None))
    try:
        _serve(pipe, listener)
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        pass


class FloorServer:
    def __init__(self, port: int) -> None:
        ctx = mp.get_context("spawn")
        self.port = port
        self.pipe, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=_main, args=(theirs, port), daemon=True, name="bench-floor")
        self.proc.start()
        theirs.close()
        self.call(None, "ready", 30)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def call(self, msg: tuple | None, kind: str, timeout: float) -> Any:
        if msg is not None:
            self.pipe.send(msg)
        if not self.pipe.poll(timeout):
            raise TimeoutError(f"floor server did not answer {kind!r}")
        got, payload = self.pipe.recv()
        assert got == kind, (got, kind)
        return payload

    def broadcast(self, frames: list[bytes]) -> dict:
        return self.call(("broadcast", frames), "broadcast", 120)

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.pipe.send(("quit",))
        except OSError:
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        self.pipe.close()
        self.proc = None
