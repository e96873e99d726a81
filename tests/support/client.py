"""Talking to a running app: accounts, posts, and an SSE reader on a thread."""

from __future__ import annotations

import itertools
import json
import queue
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urlsplit

import httpx
from httpx_sse import connect_sse

_counter = itertools.count(1)


@dataclass
class Account:
    id: int
    email: str
    nickname: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def signup(base_url: str, nickname: str | None = None, password: str = "password-123") -> Account:
    n = next(_counter)
    nickname = nickname or f"user{n}"
    email = f"{nickname}.{n}.{time.monotonic_ns()}@example.com"
    r = httpx.post(f"{base_url}/api/auth/signup", json={"email": email, "nickname": nickname, "password": password})
    assert r.status_code == 201, r.text
    body = r.json()
    return Account(id=body["user"]["id"], email=email, nickname=nickname, token=body["token"])


def create_post(base_url: str, who: Account, title: str = "제목", body: str = "본문") -> dict:
    r = httpx.post(f"{base_url}/api/posts", json={"title": title, "body": body}, headers=who.headers)
    assert r.status_code == 201, r.text
    return r.json()


def create_comment(base_url: str, who: Account, post_id: int, content: str) -> dict:
    r = httpx.post(f"{base_url}/api/posts/{post_id}/comments", json={"content": content}, headers=who.headers)
    assert r.status_code == 201, r.text
    return r.json()


@dataclass
class Received:
    id: str
    event: str
    data: dict | None
    raw: str


@dataclass
class StreamReader:
    """Reads one SSE stream on a background thread; events land in a queue."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    events: queue.Queue = field(default_factory=queue.Queue)
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    error: BaseException | None = None
    retry: int | None = None

    def __post_init__(self) -> None:
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._socket: socket.socket | None = None
        self._client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, timeout: float = 10.0) -> StreamReader:
        self._thread.start()
        assert self._connected.wait(timeout), f"stream {self.url} did not connect within {timeout}s"
        if self.error:
            raise self.error
        return self

    def _run(self) -> None:
        try:
            with connect_sse(self._client, "GET", self.url, headers=self.headers, params=self.params) as source:
                self.status = source.response.status_code
                self.response_headers = dict(source.response.headers)
                network_stream = source.response.extensions.get("network_stream")
                self._socket = network_stream.get_extra_info("socket") if network_stream is not None else None
                self._connected.set()
                if self.status != 200:
                    return
                for sse in source.iter_sse():
                    if self._stop.is_set():
                        return
                    if sse.retry is not None:
                        self.retry = sse.retry
                    if not sse.data:
                        continue  # a retry-only block dispatches no event (WHATWG SSE)
                    data = json.loads(sse.data)
                    self.events.put(Received(id=sse.id, event=sse.event, data=data, raw=sse.data))
        except BaseException as exc:  # noqa: BLE001  reported to the test
            if not self._stop.is_set():
                self.error = exc
        finally:
            self._connected.set()
            self.events.put(None)  # end of stream marker

    def next(self, timeout: float = 5.0) -> Received:
        item = self.events.get(timeout=timeout)
        if item is None:
            raise EOFError(f"stream ended (error: {self.error!r})")
        return item

    def collect(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < count:
            left = deadline - time.monotonic()
            try:
                out.append(self.next(max(left, 0.01)))
            except queue.Empty:
                raise AssertionError(f"expected {count} events within {timeout}s, got {len(out)}: {out}") from None
        return out

    def assert_silent(self, seconds: float) -> None:
        """Nothing but end-of-stream arrives for `seconds` (for 'must not receive' checks)."""
        try:
            item = self.events.get(timeout=seconds)
        except queue.Empty:
            return
        assert item is None, f"unexpected event: {item}"

    def close(self) -> None:
        self._stop.set()
        # Closing the client alone does not wake a read blocked on another thread (the FIN
        # would go out only once the next keep-alive arrives): shut the socket down first.
        sock = self._socket
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._client.close()
        self._thread.join(timeout=5)


def open_stream(base_url: str, who: Account | None = None, *, path: str = "/notifications/stream", **kw) -> StreamReader:
    headers = dict(kw.pop("headers", {}))
    if who is not None:
        headers.setdefault("Authorization", f"Bearer {who.token}")
    return StreamReader(f"{base_url}{path}", headers=headers, **kw).start()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message() if callable(message) else message}")
        time.sleep(interval)


# -- helpers for the API integration tests (tests/api) ----------------------------------


def system_status(base_url: str) -> dict:
    r = httpx.get(f"{base_url}/system/status", timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def inbox(base_url: str, who: Account, **params) -> dict:
    r = httpx.get(f"{base_url}/api/notifications", headers=who.headers, params=params, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def wait_in_inbox(base_url: str, who: Account, href: str, timeout: float = 10.0) -> dict:
    """Poll `who`'s inbox until a notification with `href` is stored (it has then been published)."""

    def find():
        return next((i for i in inbox(base_url, who, limit=100)["items"] if i["href"] == href), None)

    return wait_until(find, timeout, message=f"a notification for {href} in {who.nickname}'s inbox")


class RawStream:
    """A stream request over a bare socket, so a test can drop it like a crashed client.

    `abort()` resets the connection (RST, as when a process dies or a network drops);
    `close()` ends it politely (FIN). `read_until` reads the body bytes as sent.
    """

    def __init__(self, base_url: str, path: str = "/notifications/stream", headers: dict[str, str] | None = None,
                 timeout: float = 5.0) -> None:
        parts = urlsplit(base_url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        lines = [f"GET {path} HTTP/1.1", f"Host: {parts.netloc}", "Accept: text/event-stream"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        head = self.read_until(b"\r\n\r\n", timeout)
        status_line, *header_lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
        self.buffer = self.buffer.split(b"\r\n\r\n", 1)[1]

    def read_until(self, marker: bytes, timeout: float = 5.0, times: int = 1) -> bytes:
        """Everything received so far (raw, chunked framing included), once `marker` is in it
        `times` times (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while self.buffer.count(marker) < times:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{marker!r} not received within {timeout}s; got {self.buffer!r}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise AssertionError(f"connection closed before {marker!r}; got {self.buffer!r}")
            self.buffer += chunk
        return self.buffer

    def abort(self) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# -- helpers for the issue 6 streams (notices, entity updates, chat, status) --------------

_shared_client: httpx.Client | None = None


def http() -> httpx.Client:
    """One keep-alive client for quick requests (a new httpx client costs ~0.1 s to make).
    It keeps no cookies: a login's session cookie must not authenticate later requests."""
    global _shared_client
    if _shared_client is None:
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        _shared_client = httpx.Client(timeout=httpx.Timeout(10.0), cookies=no_cookies)
    return _shared_client


def signup_as(base_url: str, email: str, nickname: str, password: str = "password-123") -> Account:
    """Sign up with a given email (e.g. one listed in NOTIFIER_ADMIN_EMAILS)."""
    r = httpx.post(f"{base_url}/api/auth/signup", json={"email": email, "nickname": nickname, "password": password})
    assert r.status_code == 201, r.text
    body = r.json()
    return Account(id=body["user"]["id"], email=email, nickname=nickname, token=body["token"])


def me(base_url: str, who: Account) -> dict:
    r = http().get(f"{base_url}/api/me", headers=who.headers)
    assert r.status_code == 200, r.text
    return r.json()


def send_notice(base_url: str, who: Account | None, body: dict, **kw) -> httpx.Response:
    """POST /notifications/send as `who` (None: no credentials); the response, unchecked."""
    headers = who.headers if who is not None else {}
    return http().post(f"{base_url}/notifications/send", json=body, headers=headers, **kw)


def update_entity(base_url: str, who: Account | None, body: dict, **kw) -> httpx.Response:
    """POST /realtime/update as `who`; the response, unchecked."""
    headers = who.headers if who is not None else {}
    return http().post(f"{base_url}/realtime/update", json=body, headers=headers, **kw)


def send_chat(base_url: str, who: Account | None, room: str, message: str, **kw) -> httpx.Response:
    """POST /chat/send as `who`; the response, unchecked."""
    headers = who.headers if who is not None else {}
    return http().post(f"{base_url}/chat/send", json={"roomId": room, "message": message}, headers=headers, **kw)


def entity_params(*entities: str) -> list[tuple[str, str]]:
    """Query parameters for GET /realtime/stream (one `entity` per name)."""
    return [("entity", e) for e in entities]
