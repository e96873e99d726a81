"""What a request that misses the API's routes is answered, instead of the frontend's 404.

Reflex mounts its own app at "" behind the FastAPI app's routes (`rx.App(api_transformer=
...)`), and Starlette's router lets a mount that matches any path win over a route that
matched the path but not the method. So `POST /notifications/stream` or `GET
/notifications/send` reached Reflex and got `404 Not Found` in plain text: a client author
was told the endpoint does not exist. `RouteMisses` wraps Reflex's app, so it sees only
what no API route took, and answers:
- a path an API route has but for a trailing slash: a 307 to it (FastAPI's own redirect,
  which the mount keeps from ever running);
- a path an API route has, with a method it does not: 405, `Allow` and a JSON detail;
- any other path under `/api/`: 404 with a JSON detail (no page lives there);
- everything else — pages, assets, Reflex's own endpoints — goes on to Reflex.
OPTIONS always goes on (a CORS preflight is answered before routing; a bare OPTIONS is
Reflex's to answer as before). No page shares a path with an API route (a test checks),
so a page is never answered 405.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

API_PREFIX = "/api/"
# The methods an `Allow` header can name; HEAD is allowed only where a route says so.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class RouteMisses:
    __slots__ = ("app", "api")

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] != "OPTIONS":
            response = self.answer(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def answer(self, scope: Scope) -> Response | None:
        """The answer to a request no API route took, or None to let Reflex answer it."""
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            unslashed = {**scope, "path": path.rstrip("/")}
            if self.allowed_methods(unslashed):
                query = scope.get("query_string", b"").decode("latin-1")
                # A relative location: behind a proxy the scope's host and scheme are the proxy's.
                return RedirectResponse(unslashed["path"] + (f"?{query}" if query else ""), status_code=307)
        allowed = self.allowed_methods(scope)
        if allowed:
            detail = f"{scope['method']} is not allowed on {path}: use {', '.join(allowed)}"
            return JSONResponse({"detail": detail}, status_code=405, headers={"Allow": ", ".join(allowed)})
        if path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/"):
            return JSONResponse({"detail": f"No such endpoint: {path}"}, status_code=404)
        return None

    def allowed_methods(self, scope: Scope) -> list[str]:
        """The methods the API's routes take on this request's path (none: not an API path)."""
        routes = [route for route in self.api.router.routes if not isinstance(route, Mount)]
        return [
            method
            for method in _METHODS
            if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in routes)
        ]


def route_misses(api: FastAPI):
    """The transformer that wraps Reflex's app; list it before `api` in `api_transformer`."""

    def wrap(app: ASGIApp) -> RouteMisses:
        return RouteMisses(app, api)

    return wrap
