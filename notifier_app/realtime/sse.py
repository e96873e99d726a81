"""Server-Sent Events wire format (https://html.spec.whatwg.org/#server-sent-events).

We frame the bytes ourselves rather than use sse-starlette: an event is encoded once
per publish and the same bytes go to every subscriber, and the response loop below is
the hot path of a 10,000-stream process (issue 7 has the measurements behind this).
"""

from __future__ import annotations

import json
from typing import Any

KEEP_ALIVE = b": keep-alive\n\n"

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
    (b"connection", b"keep-alive"),
]


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def frame(data: Any, *, id: int | str | None = None, event: str | None = None) -> bytes:
    """One event. `data` is JSON-encoded (which never contains a raw newline)."""
    parts = []
    if id is not None:
        parts.append(f"id: {id}\n")
    if event is not None:
        parts.append(f"event: {event}\n")
    text = data if isinstance(data, str) else dumps(data)
    for line in text.split("\n"):
        parts.append(f"data: {line}\n")
    parts.append("\n")
    return "".join(parts).encode()


def retry(milliseconds: int) -> bytes:
    return f"retry: {milliseconds}\n\n".encode()
