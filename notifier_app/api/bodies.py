"""Request bodies are capped before they are read into memory (NOTIFIER_MAX_BODY_BYTES).

Every endpoint reads its whole body before it looks at it (FastAPI's body parsing, the
form posts' `request.body()`, the comment hot path): three concurrent 200 MB bodies to
`/api/auth/login` took a worker to 1.3 GB, and 629 MB stayed (issue 21). The cap sits in
front of everything (api/hot_paths.py applies it to every HTTP request):
- a `Content-Length` above the cap is answered `413` at once, the body never read;
- a body without one (chunked) is counted as it is read, and the read that crosses the
  cap raises `BodyTooLarge`, answered `413` by the API's HTTPException handler: at most
  the cap plus one chunk was held. (A declared length needs no counting: the server
  delivers no more than it says.)
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope


def too_large_detail(limit: int) -> str:
    return f"Request body too large: at most {limit} bytes"


class BodyTooLarge(HTTPException):
    """Raised by a capped `receive` (FastAPI re-raises an HTTPException met while it reads
    a body, and the API's handler answers it in JSON)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_detail(limit))


def too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": too_large_detail(limit)}, status_code=413)


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when it has none (or one that is no number)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def capped(receive: Receive, limit: int) -> Receive:
    """`receive` that raises BodyTooLarge once more than `limit` body bytes came through it."""
    seen = 0

    async def receive_capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_capped
