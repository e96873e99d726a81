"""Phase stamps for `python -m bench.phases`, loaded by a server that has this directory
on its PYTHONPATH. Inert unless NOTIFIER_BENCH_PHASES names a file.

Each comment request (POST …/comments) is stamped with `time.perf_counter_ns()` where it
enters the outermost ASGI app (and our FastAPI app, which a comment served by
api/hot_paths.py never enters), asks for and gets its body,
starts and ends the token check, reaches the endpoint's hop to a worker thread, starts
the transaction and commits it, hands the notification to the broker and is done with it, and
sends its response body. One line of stamps per request (0 where a phase was not seen),
written to `$NOTIFIER_BENCH_PHASES.<pid>` once the request is done (a line-buffered
append, some 10 µs). It wraps the app's internals by name: a rename there shows up as a
phase that is always 0.
"""

from __future__ import annotations

import os

STAMPS = (
    "asgi", "fastapi", "receive", "received", "verify", "verified",
    "endpoint", "service", "committed", "publish", "published", "response",
)


def _install(path: str) -> None:
    import time

    import fastapi.applications
    import sqlalchemy as sa
    import starlette.applications
    from sqlmodel import Session

    from notifier_app.api import deps, hot_paths
    from notifier_app.api.routes import posts
    from notifier_app.blog import services
    from notifier_app.realtime import broker

    now = time.perf_counter_ns
    current: dict[str, int] = {}
    files = {}  # pid -> the stamps file of this process (a worker is forked after import)

    def stamp(name: str) -> None:
        if current and name not in current:
            current[name] = now()

    def write(row: tuple[int, ...]) -> None:
        pid = os.getpid()
        if pid not in files:
            files[pid] = open(f"{path}.{pid}", "a", buffering=1)  # noqa: SIM115 (open while the process lives)
        files[pid].write(" ".join(map(str, row)) + "\n")

    starlette_call = starlette.applications.Starlette.__call__

    async def outermost(self, scope, receive, send):
        if current or scope.get("method") != "POST" or not scope.get("path", "").endswith("/comments"):
            return await starlette_call(self, scope, receive, send)
        current["asgi"] = now()

        async def stamped_receive():
            stamp("receive")
            message = await receive()
            stamp("received")
            return message

        async def stamped_send(message):
            if message["type"] == "http.response.body":
                stamp("response")
            await send(message)

        try:
            await starlette_call(self, scope, stamped_receive, stamped_send)
        finally:
            row = tuple(current.get(name, 0) for name in STAMPS)
            current.clear()
            write(row)

    fastapi_call = fastapi.applications.FastAPI.__call__

    async def fastapi_entry(self, scope, receive, send):
        stamp("fastapi")
        await fastapi_call(self, scope, receive, send)

    verify_token = deps.verify_token

    def stamped_verify(*args, **kwargs):
        stamp("verify")
        try:
            return verify_token(*args, **kwargs)
        finally:
            stamp("verified")

    run_in_threadpool = posts.run_in_threadpool  # (hot_paths imports the same function)

    async def stamped_hop(fn, *args, **kwargs):
        stamp("endpoint")
        return await run_in_threadpool(fn, *args, **kwargs)

    create_comment = services.create_comment

    def stamped_create_comment(*args, **kwargs):
        stamp("service")
        return create_comment(*args, **kwargs)

    publish = broker.InProcessBroker.publish

    async def stamped_publish(self, published):
        stamp("publish")
        try:
            await publish(self, published)
        finally:
            stamp("published")

    # before the app's own after-commit hook, which hands the notification to the loop
    sa.event.listen(Session, "after_commit", lambda _session: stamp("committed"), insert=True)
    starlette.applications.Starlette.__call__ = outermost
    fastapi.applications.FastAPI.__call__ = fastapi_entry
    deps.verify_token = stamped_verify
    posts.run_in_threadpool = hot_paths.run_in_threadpool = stamped_hop
    services.create_comment = stamped_create_comment
    broker.InProcessBroker.publish = stamped_publish


if os.environ.get("NOTIFIER_BENCH_PHASES"):
    _install(os.environ["NOTIFIER_BENCH_PHASES"])
