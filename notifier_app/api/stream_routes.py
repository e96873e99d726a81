"""Stream connects without the framework stacks in their way.

A stream's first request went through Reflex's Starlette app and the mounted FastAPI app
— each with its error and CORS middlewares, its exception handling and its router (the
FastAPI one tries every route in turn) — before the endpoint ran: more than half of the
event loop's time for a connect, which bounded how fast a restart's 10,000 reconnects
are taken (bench/README.md, item 42). The endpoints need none of it: they take the
request and return a response. `StreamRoutes` sits outside both stacks (inside `StreamHandoff`,
installed by the lifespan) and calls them itself for a GET of their exact path, with
what the stacks did for them: CORS (Starlette's middleware, configured as Reflex
configures its own) and the same JSON errors. Every other request, and any other method
on these paths, goes through the stacks as before; the FastAPI routes stay, for the
OpenAPI schema and for a server without this layer (an ASGI test client).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from notifier_app.api.app import http_error, unexpected_error
from notifier_app.api.routes import streams

Endpoint = Callable[[Request], Awaitable[Response]]


class StreamRoutes:
    __slots__ = ("app", "endpoints", "_open_with_cors")

    def __init__(self, app: ASGIApp, endpoints: Mapping[str, Endpoint], cors_origins: list[str]) -> None:
        self.app = app
        self.endpoints = endpoints
        self._open_with_cors = CORSMiddleware(
            self._open, allow_origins=cors_origins, allow_credentials=True, allow_methods=["*"], allow_headers=["*"]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in self.endpoints:
            await self._open_with_cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _open(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.endpoints[scope["path"]](request)
        except HTTPException as exc:
            response = http_error(request, exc)
        except Exception as exc:  # noqa: BLE001 (what the stacks' last handler did: a JSON 500, logged)
            response = unexpected_error(request, exc)
        await response(scope, receive, send)


def stream_routes(app: ASGIApp) -> StreamRoutes:
    from reflex.config import get_config

    return StreamRoutes(app, streams.ENDPOINTS, get_config().cors_allowed_origins)
