"""How the prod server (granian, started by `reflex run --env prod`) is configured.

Reflex 0.10 builds granian's `Server` itself and passes no backpressure or backlog, and
granian's `Server` reads no environment. Granian's default backpressure is backlog (1,024)
divided by the worker count: the number of requests a worker runs at once. Long-lived SSE
streams are requests, so at 1,024 of them everything else — /ping, the API, page loads,
the Reflex websocket — hangs.

Granian also speaks cleartext HTTP/2 by default ("auto"), which no browser uses (they
need TLS for HTTP/2, and granian, as Reflex starts it, has none; a proxy in front talks
HTTP/1.1 to it). That detection costs memory on every connection: a held SSE stream took
27.7 KB of server RSS in "auto" and 16.3 KB in HTTP/1-only mode (a bare granian ASGI app,
4,000 streams; bench/README.md). So we serve HTTP/1.1 only (NOTIFIER_SERVER_HTTP=auto
restores granian's default).

Reflex imports `rxconfig.py` in the process that then starts granian, so rxconfig calls
`configure_granian()`, which puts a `Server` subclass with our defaults in the place
Reflex imports it from. No installed file is changed; `reflex run` in development (which
does not use these settings' limits) keeps working; the stream cap
(NOTIFIER_MAX_STREAMS, answered with 503) always stays below the server's limit.

Each worker gets two I/O threads instead of granian's one (NOTIFIER_SERVER_THREADS): with
one, the response to a publishing request waits behind the socket writes of the fan-out
it caused, so back-to-back publishes cannot be gathered (realtime/writes.py). Burst to
10,000 streams: 83k → 93-95k events/s (bench/README.md).

Granian's access log stays off unless NOTIFIER_SERVER_ACCESS_LOG=1: it reads the
request's scope when the request ends, so with it on a held stream keeps what it reads
(~0.8 KB per stream, realtime/streams.py).

Granian allocates with jemalloc, which keeps pages it no longer uses for ten seconds and
returns them only while it is allocating — an idle server with thousands of held streams
keeps them for good: 16.4 KB of RSS per held stream for a bare granian app instead of
14.2. We ask it to return them at once (`_RJEM_MALLOC_CONF=dirty_decay_ms:0`, unless the
environment sets it): the server's memory is what its connections hold, and bursts and
broadcasts measured the same (bench/README.md). It is read when granian loads, so this
runs before granian is imported; its workers are forked from this process.
"""

from __future__ import annotations

import logging
import os
import sys

from notifier_app.config import (
    SERVER_ACCESS_LOG,
    server_access_log,
    server_backlog,
    server_backpressure,
    server_http,
    server_threads,
)

logger = logging.getLogger("notifier")


# jemalloc's settings as granian's build names them (tikv-jemallocator: prefixed symbols).
JEMALLOC_CONF = "_RJEM_MALLOC_CONF"


def configure_granian() -> None:
    if JEMALLOC_CONF not in os.environ:  # (rxconfig is loaded again later, and in the worker)
        if "granian._granian" in sys.modules:
            logger.warning("granian was loaded before configure_granian(): its allocator keeps its defaults")
        os.environ[JEMALLOC_CONF] = "dirty_decay_ms:0"
    try:
        import granian.server as granian_server
    except ImportError:  # another ASGI server is in use
        return
    base = granian_server.Server
    if getattr(base, "_notifier_tuned", False):
        return

    class TunedServer(base):  # type: ignore[misc, valid-type]
        _notifier_tuned = True

        def __init__(self, *args, **kwargs):
            kwargs.setdefault("backlog", server_backlog())
            kwargs.setdefault("runtime_threads", server_threads())
            if "http" not in kwargs:
                from granian.constants import HTTPModes

                kwargs["http"] = HTTPModes(server_http())
            if kwargs.get("backpressure") is None:
                kwargs["backpressure"] = server_backpressure()
            kwargs.setdefault("log_access", server_access_log())
            super().__init__(*args, **kwargs)
            # Its workers (forked or spawned) learn from this whether a finished request's
            # scope is still read (realtime/streams.py, _slim).
            os.environ[SERVER_ACCESS_LOG] = "1" if self.log_access else "0"
            logger.info(
                "granian: backpressure %s per worker, backlog %s, HTTP %s, %s I/O threads",
                self.backpressure, self.backlog, self.http, self.runtime_threads,
            )

    TunedServer.__name__ = TunedServer.__qualname__ = "Server"
    granian_server.Server = TunedServer
