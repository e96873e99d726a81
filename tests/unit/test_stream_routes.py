"""The stream connects' shortcut past the framework stacks (api/stream_routes.py): it
serves the routes FastAPI declares, and nothing else."""

from __future__ import annotations

from starlette.responses import PlainTextResponse

from notifier_app.api.routes import streams
from notifier_app.api.stream_routes import StreamRoutes
from tests.unit.conftest import run


def test_the_shortcut_serves_exactly_the_stream_routes_the_router_declares():
    routes = [route for route in streams.router.routes if route.path.endswith("/stream")]
    assert streams.ENDPOINTS == {route.path: route.endpoint for route in routes}
    for route in routes:
        assert route.methods == {"GET"}, route.path  # the shortcut takes GET only
        assert "{" not in route.path, route.path  # and matches paths exactly


def test_only_a_get_of_an_exact_stream_path_takes_the_shortcut():
    served: list[str] = []

    async def endpoint(request):
        served.append(f"shortcut {request.method} {request.url.path}")
        return PlainTextResponse("stream")

    async def stacks(scope, receive, send):
        served.append(f"stacks {scope['method']} {scope['path']}")
        await PlainTextResponse("stacks")(scope, receive, send)

    routes = StreamRoutes(stacks, {"/s/stream": endpoint}, cors_origins=[])

    async def call(method: str, path: str) -> None:
        scope = {"type": "http", "method": method, "path": path, "query_string": b"", "headers": []}

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(_message):
            pass

        await routes(scope, receive, send)

    for method, path in [("GET", "/s/stream"), ("POST", "/s/stream"), ("GET", "/s/stream/"), ("GET", "/s")]:
        run(call(method, path))
    assert served == ["shortcut GET /s/stream", "stacks POST /s/stream", "stacks GET /s/stream/", "stacks GET /s"]
