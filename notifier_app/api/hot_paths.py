"""The two requests the real-time figures hang on, without the framework stacks in their way.

Every request goes through Reflex's Starlette app and the mounted FastAPI app — each with
its error, CORS and exception middlewares and its router (FastAPI's tries every route in
turn) — and then FastAPI's dependency solving, validation and response serialization.
For a stream connect that was more than half of the event loop's time (it bounded how
fast a restart's 10,000 reconnects are taken), and for a comment, the publish behind
every targeted notification, a fifth to a third of the time until the notification is
out (bench/README.md, items 42-43).

`HotPaths` sits outside both stacks (inside `StreamHandoff`, installed by the lifespan)
and serves those two itself:
- a GET of a stream endpoint's exact path: the endpoint is called with the request and
  its response sent;
- a POST of a comment with a JSON body (`/api/posts/<id>/comments`): the body is read,
  validated by the same schema, the caller authenticated by the same function, and the
  comment written by the same service. A request it cannot serve with a 201 — bad input,
  no or a refused token, no such post — goes through the stacks with its body replayed,
  so every error is answered by the one code that always answered it.
A login or signup (JSON) while the password-hashing pool is full is answered 503 here,
its body unread (auth/hashing.py); a login whose account and address must wait, 429
(auth/throttle.py). Every other request goes through the stacks with its
body capped (NOTIFIER_MAX_BODY_BYTES, api/bodies.py): a declared length above the cap is
a 413 at once, a chunked body is counted as the stacks read it. What the stacks did for
these responses is done here: CORS (Starlette's middleware, configured as Reflex
configures its own) and the fault answers (api/faults.py: 503 for a locked or unreachable
database, 401 for a deleted caller, a JSON 500 for the unexpected). The FastAPI routes
stay, for the OpenAPI schema, for the errors, and for a server without this layer (an
ASGI test client).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notifier_app.api.app import http_error
from notifier_app.api.bodies import capped, declared_length, too_large
from notifier_app.api.clients import client_address
from notifier_app.api.deps import authenticate
from notifier_app.api.faults import fault_response
from notifier_app.api.routes import auth, streams
from notifier_app.auth import hashing
from notifier_app.auth.throttle import Throttled, login_throttle
from notifier_app.blog import services
from notifier_app.blog.schemas import CommentIn
from notifier_app.config import max_body_bytes

Endpoint = Callable[[Request], Awaitable[Response]]

# The canonical spelling of a post id the route accepts (1 .. 2**31 - 1); any other goes
# through the stacks, which answer it (a 422 when it is out of range).
_COMMENTS = re.compile(r"/api/posts/([1-9][0-9]{0,9})/comments")
MAX_POST_ID = 2**31 - 1
# A comment is at most 2,000 characters: a larger body is not read here.
MAX_COMMENT_BODY = 64 * 1024
_RESPONSE = "notifier.hot_path_response"


class HotPaths:
    __slots__ = ("app", "streams", "max_body", "_send_with_cors")

    def __init__(
        self,
        app: ASGIApp,
        stream_endpoints: Mapping[str, Endpoint],
        cors_origins: list[str],
        max_body: int | None = None,
    ) -> None:
        self.app = app
        self.streams = stream_endpoints
        self.max_body = max_body if max_body is not None else max_body_bytes()
        self._send_with_cors = CORSMiddleware(
            _send_prepared, allow_origins=cors_origins, allow_credentials=True, allow_methods=["*"], allow_headers=["*"]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            if method == "GET" and (endpoint := self.streams.get(scope["path"])):
                await self._stream(scope, receive, send, endpoint)
                return
            length = declared_length(scope)
            if length is None:
                receive = capped(receive, self.max_body)  # counted as it is read
            elif length > self.max_body:
                await self._send(scope, receive, send, too_large(self.max_body))  # never read
                return
            if method == "POST":
                if post_id := _comment_post_id(scope):
                    await self._comment(scope, receive, send, post_id)
                    return
                if scope["path"] in CREDENTIAL_PATHS:
                    if (refusal := _hashing_refusal()) is not None:
                        await self._send(scope, receive, send, refusal)  # the body is never read
                        return
                    if scope["path"] == LOGIN_PATH and length is not None and length <= MAX_LOGIN_BODY:
                        await self._login(scope, receive, send)
                        return
        await self.app(scope, receive, send)

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A login whose (account, address) must wait is answered 429 here; any other goes
        through the stacks with its body replayed (where the attempt is counted)."""
        body = await _read_body(receive, MAX_LOGIN_BODY)
        if body is None:
            return
        replayed = _replay(body, receive)
        try:
            email = json.loads(body).get("email")
            if isinstance(email, str) and 0 < len(email) <= 320:
                await login_throttle().check(services.normalize_email(email), client_address(scope))
        except Throttled as exc:
            await self._send(scope, receive, send, auth.throttled(exc))
            return
        except Exception:  # noqa: BLE001 (not JSON, not an object: the stacks answer it)
            pass
        await self.app(scope, replayed, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, endpoint: Endpoint) -> None:
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except HTTPException as exc:
            response = http_error(request, exc)
        except Exception as exc:  # noqa: BLE001 (what the stacks' handlers did: 503/401/500 in JSON, api/faults.py)
            response = await fault_response(request, exc)
        await self._send(scope, receive, send, response)

    async def _comment(self, scope: Scope, receive: Receive, send: Send, post_id: int) -> None:
        body = await _read_body(receive, MAX_COMMENT_BODY)
        if body is None:
            return  # the client went away
        if len(body) > MAX_COMMENT_BODY:  # more than it declared: never more than the bound is held
            await self._send(scope, receive, send, too_large(MAX_COMMENT_BODY))
            return
        replayed = _replay(body, receive)
        request = Request(scope, replayed)
        try:
            data = CommentIn.model_validate(json.loads(body))
            user = await authenticate(request)
        except Exception:  # noqa: BLE001 (bad input, no token or a refused one: the stacks say which)
            await self.app(scope, replayed, send)
            return
        try:
            comment = await run_in_threadpool(services.create_comment, user.id, post_id, data)
        except services.NotFound:
            await self.app(scope, replayed, send)  # nothing was written: the stacks' 404
            return
        except Exception as exc:  # noqa: BLE001 (a locked database: 503, a deleted caller: 401, api/faults.py)
            response = await fault_response(request, exc)
        else:
            response = JSONResponse(comment.model_dump(mode="json"), status_code=201)
        await self._send(scope, receive, send, response)

    async def _send(self, scope: Scope, receive: Receive, send: Send, response: Response) -> None:
        scope[_RESPONSE] = response
        await self._send_with_cors(scope, receive, send)


async def _send_prepared(scope: Scope, receive: Receive, send: Send) -> None:
    await scope.pop(_RESPONSE)(scope, receive, send)


# The JSON endpoints that hash a password: while the hashing pool is full, a storm of
# them is refused here, before the body is read or the stacks run; the endpoints would
# refuse them the same way.
CREDENTIAL_PATHS = frozenset({"/api/auth/login", "/api/auth/signup"})
# A login, likewise, while its (account, address) is throttled (auth/throttle.py): its
# small body is read and checked here, and a 429 sent without the stacks.
LOGIN_PATH = "/api/auth/login"
MAX_LOGIN_BODY = 4 * 1024


def _hashing_refusal() -> Response | None:
    try:
        hashing.pool().check()
    except hashing.Busy as exc:
        return auth.busy(exc)
    return None


def _comment_post_id(scope: Scope) -> int | None:
    """The post id of a comment this layer may serve: a JSON body of a bounded, known size."""
    match = _COMMENTS.fullmatch(scope["path"])
    if match is None or int(match[1]) > MAX_POST_ID:
        return None
    content_type = length = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
        elif name == b"content-length":
            length = value
    if content_type is None or content_type.split(b";")[0].strip().lower() != b"application/json":
        return None
    if length is None or not length.isdigit() or int(length) > MAX_COMMENT_BODY:
        return None
    return int(match[1])


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The body (None if the client went away); reading stops once it is past `limit`."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit or not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` with the body that was read from it given once more first."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def hot_paths(app: ASGIApp) -> HotPaths:
    from reflex.config import get_config

    return HotPaths(app, streams.ENDPOINTS, get_config().cors_allowed_origins)
