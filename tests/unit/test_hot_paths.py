"""The hot paths past the framework stacks (api/hot_paths.py): which requests take them."""

from __future__ import annotations

from starlette.responses import PlainTextResponse

from notifier_app.api.hot_paths import HotPaths, _comment_post_id
from notifier_app.api.routes import streams
from tests.unit.conftest import run


def test_the_hot_path_serves_exactly_the_stream_routes_the_router_declares():
    routes = [route for route in streams.router.routes if route.path.endswith("/stream")]
    expected = {"/notifications/stream", "/realtime/stream", "/chat/stream", "/system/status/stream"}
    assert set(streams.ENDPOINTS) == expected
    assert streams.ENDPOINTS == {route.path: route.endpoint for route in routes}
    for route in routes:
        assert route.methods == {"GET"}, route.path  # the hot path takes GET only
        assert "{" not in route.path, route.path  # and matches paths exactly


def test_only_a_get_of_an_exact_stream_path_takes_the_hot_path():
    served: list[str] = []

    async def endpoint(request):
        served.append(f"hot path {request.method} {request.url.path}")
        return PlainTextResponse("stream")

    async def stacks(scope, receive, send):
        served.append(f"stacks {scope['method']} {scope['path']}")
        await PlainTextResponse("stacks")(scope, receive, send)

    routes = HotPaths(stacks, {"/s/stream": endpoint}, cors_origins=[])

    async def call(method: str, path: str) -> None:
        scope = {"type": "http", "method": method, "path": path, "query_string": b"", "headers": []}

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(_message):
            pass

        await routes(scope, receive, send)

    for method, path in [("GET", "/s/stream"), ("POST", "/s/stream"), ("GET", "/s/stream/"), ("GET", "/s")]:
        run(call(method, path))
    assert served == ["hot path GET /s/stream", "stacks POST /s/stream", "stacks GET /s/stream/", "stacks GET /s"]


def comment_scope(path: str, content_type: bytes | None = b"application/json", length: bytes | None = b"20") -> dict:
    headers = [(b"host", b"x")]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    if length is not None:
        headers.append((b"content-length", length))
    return {"type": "http", "method": "POST", "path": path, "headers": headers}


def test_only_a_json_comment_of_a_known_bounded_size_on_a_canonical_post_id_takes_the_hot_path():
    assert _comment_post_id(comment_scope("/api/posts/7/comments")) == 7
    assert _comment_post_id(comment_scope("/api/posts/7/comments", b"Application/JSON; charset=utf-8")) == 7
    assert _comment_post_id(comment_scope(f"/api/posts/{2**31 - 1}/comments")) == 2**31 - 1
    for scope in (
        comment_scope(f"/api/posts/{2**31}/comments"),  # out of range: the route's 422
        comment_scope("/api/posts/0/comments"),
        comment_scope("/api/posts/07/comments"),
        comment_scope("/api/posts/٣/comments"),  # a digit, not an ASCII one
        comment_scope("/api/posts/7/comments/"),
        comment_scope("/api/posts/7"),
        comment_scope("/api/posts/7/comments", content_type=None),
        comment_scope("/api/posts/7/comments", b"text/plain"),
        comment_scope("/api/posts/7/comments", length=None),  # chunked
        comment_scope("/api/posts/7/comments", length=str(64 * 1024 + 1).encode()),
    ):
        assert _comment_post_id(scope) is None, scope


def test_bodies_past_the_cap_are_refused_unread_or_while_read():
    """NOTIFIER_MAX_BODY_BYTES (api/bodies.py): a declared length past the cap never reaches
    the stacks; a chunked body reaches them counted, and the read crossing the cap raises."""
    from notifier_app.api.bodies import BodyTooLarge

    seen: list[object] = []
    sent: list[dict] = []

    async def stacks(scope, receive, send):
        try:
            while (await receive()).get("more_body"):
                pass
            seen.append("read")
        except BodyTooLarge as exc:
            seen.append(exc.status_code)

    routes = HotPaths(stacks, {}, cors_origins=[], max_body=10)

    async def call(length: bytes | None, parts: list[bytes]) -> None:
        headers = [(b"content-type", b"application/json")] + ([(b"content-length", length)] if length else [])
        scope = {"type": "http", "method": "POST", "path": "/api/posts", "query_string": b"", "headers": headers}
        pending = list(parts)

        async def receive():
            body = pending.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(pending)}

        async def send(message):
            sent.append(message)

        await routes(scope, receive, send)

    run(call(b"11", [b"x" * 11]))
    assert seen == [] and sent[0]["status"] == 413  # answered, nothing read
    run(call(b"10", [b"x" * 10]))
    run(call(None, [b"x" * 5, b"x" * 5]))
    assert seen == ["read", "read"]
    run(call(None, [b"x" * 6, b"x" * 6, b"x" * 6]))
    assert seen == ["read", "read", 413]


def test_logins_and_signups_are_refused_unread_while_the_hashing_pool_is_full(monkeypatch):
    import threading

    from notifier_app.auth import hashing

    full = hashing.HashingPool(workers=1, queue=0)
    release = threading.Event()
    full.submit(release.wait, 5)
    monkeypatch.setattr(hashing, "_pool", full)
    seen: list[str] = []
    sent: list[dict] = []

    async def stacks(scope, receive, send):
        seen.append(scope["path"])

    routes = HotPaths(stacks, {}, cors_origins=[])

    async def call(path: str) -> None:
        scope = {"type": "http", "method": "POST", "path": path, "query_string": b"",
                 "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]}

        async def receive():
            raise AssertionError("the body was read")

        async def send(message):
            sent.append(message)

        await routes(scope, receive, send)

    try:
        run(call("/api/auth/login"))
        run(call("/api/auth/signup"))
        assert seen == [] and [m["status"] for m in sent if m["type"] == "http.response.start"] == [503, 503]
        assert any(name == b"retry-after" for name, _ in sent[0]["headers"])
        run(call("/auth/login"))  # a form: its own answer (a redirect back), from the stacks
        assert seen == ["/auth/login"]
    finally:
        release.set()


def test_a_throttled_login_is_refused_without_the_stacks_and_others_go_through(monkeypatch):
    import json

    from notifier_app.auth import throttle

    limited = throttle.LoginThrottle(pair=throttle.parse_limits("1/minute"), account=[], address=[])
    monkeypatch.setattr(throttle, "_throttle", limited)
    monkeypatch.setattr("notifier_app.api.hot_paths.login_throttle", lambda: limited)
    seen: list[bytes] = []
    statuses: list[int] = []

    async def stacks(scope, receive, send):
        seen.append((await receive())["body"])  # the body, replayed

    routes = HotPaths(stacks, {}, cors_origins=[])

    async def call(email: str) -> None:
        body = json.dumps({"email": email, "password": "x"}).encode()
        scope = {"type": "http", "method": "POST", "path": "/api/auth/login", "query_string": b"", "client": ("1.2.3.4", 5),
                 "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
        sent = False

        async def receive():
            nonlocal sent
            assert not sent
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await limited.attempt(email.lower(), "1.2.3.4") if email.lower().startswith("count") else None
        await routes(scope, receive, send)

    async def scenario():
        await call("Counted@example.com")  # its one attempt is used up: refused here
        await call("fresh@example.com")  # not throttled: to the stacks, body intact

    run(scenario())
    assert statuses == [429]
    assert seen == [json.dumps({"email": "fresh@example.com", "password": "x"}).encode()]
