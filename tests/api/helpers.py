"""Small helpers shared by the API test modules."""

from __future__ import annotations

import time
from contextlib import contextmanager

import httpx
import jwt

from tests.support.server import TEST_SECRET, AppServer


def assert_no_traceback(server: AppServer, since: int = 0) -> None:
    text = server.log_text()[since:]
    assert "Traceback" not in text, f"{server.name} server logged a traceback (log: {server.log_path}):\n{text[-6000:]}"


def mint(sub, *, secret: str = TEST_SECRET, algorithm: str = "HS256", ttl: int = 3600, **claims) -> str:
    """A token as the server signs them, or with whatever is wrong with it."""
    now = int(time.time())
    payload = {"sub": str(sub), "iat": now, "exp": now + ttl, **claims}
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
