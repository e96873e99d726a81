"""Small helpers shared by the API test modules."""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager

import httpx
import jwt
from jwt.warnings import InsecureKeyLengthWarning

from tests.support.client import Account, StreamReader, open_stream, system_status, wait_until
from tests.support.server import TEST_SECRET, AppServer


def assert_no_traceback(server: AppServer, since: int = 0) -> None:
    text = server.log_text()[since:]
    assert "Traceback" not in text, f"{server.name} server logged a traceback (log: {server.log_path}):\n{text[-6000:]}"


def mint(sub, *, secret: str = TEST_SECRET, algorithm: str = "HS256", ttl: int = 3600, **claims) -> str:
    """A token as the server signs them, or with whatever is wrong with it."""
    now = int(time.time())
    payload = {"sub": str(sub), "iat": now, "exp": now + ttl, **claims}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # HS512 with the 52-byte test secret
        return jwt.encode(payload, secret, algorithm=algorithm)


def assert_json_error(r: httpx.Response, status: int | tuple[int, ...]) -> dict:
    """A JSON error answer with a `detail`, of the expected status (never a 500)."""
    statuses = (status,) if isinstance(status, int) else status
    assert r.status_code in statuses, f"expected {statuses}, got {r.status_code}: {r.text[:500]}"
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    body = r.json()
    assert "detail" in body, body
    return body


@contextmanager
def opened(url: str, *, timeout: float = 5.0, **kw):
    """GET `url` as a stream without reading the body (safe if it turns out to be an event stream)."""
    with httpx.Client(timeout=httpx.Timeout(timeout)) as client, client.stream("GET", url, **kw) as r:
        yield r


def wait_idle(base_url: str, timeout: float = 5.0) -> dict:
    """Wait until the server holds no open stream (every earlier one was released)."""
    last: dict = {}

    def idle():
        nonlocal last
        last = system_status(base_url)
        return last if last["streams"] == 0 and last["connections"] == 0 else None

    try:
        return wait_until(idle, timeout, message="no open streams")
    except AssertionError:
        raise AssertionError(f"streams still open after {timeout}s (leaked subscriber?): {last}") from None


class Streams:
    """Opens StreamReaders for a test and closes whatever is left at the end."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.readers: list[StreamReader] = []

    def open(self, who: Account | None = None, *, base_url: str | None = None, expect: int = 200, **kw) -> StreamReader:
        reader = open_stream(base_url or self.base_url, who, **kw)
        self.readers.append(reader)
        assert reader.status == expect, f"stream for {who and who.nickname} answered {reader.status}, expected {expect}"
        return reader

    def close_all(self) -> None:
        for reader in self.readers:
            reader.close()
        self.readers.clear()
