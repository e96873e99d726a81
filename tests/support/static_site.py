"""A plain static file server for an exported Reflex frontend, as a static host serves it.

`reflex export` prerenders every static route twice (`login.html` and `login/index.html`)
and writes `404.html`, a copy of the SPA fallback page. A dynamic route such as
`/posts/7` has no file: the host must answer it with `404.html`, whose script boots the
app and renders the route in the browser. That is what static hosts do by default
(GitHub Pages, Netlify, S3 "error document", nginx `try_files $uri $uri.html $uri/index.html
=404` + `error_page 404 /404.html`). This server does the same, on a loopback port, in a
thread of the test process: python's http.server plus those lookup rules.
"""

from __future__ import annotations

import http.server
import threading
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.support.server import free_port


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".css": "text/css",
        ".json": "application/json",
        ".svg": "image/svg+xml",
        ".webmanifest": "application/manifest+json",
    }

    def _resolve(self) -> tuple[Path, int] | None:
        root = Path(self.directory).resolve()
        rel = unquote(urlsplit(self.path).path).lstrip("/")
        target = (root / rel).resolve()
        if root != target and root not in target.parents:
            return None
        candidates = [target, target / "index.html"]
        if target != root:  # /login -> login.html (the "pretty URL" of most static hosts)
            candidates.insert(1, target.with_name(target.name + ".html"))
        for candidate in candidates:
            if candidate.is_file():
                return candidate, 200
        fallback = root / "404.html"
        return (fallback, 404) if fallback.is_file() else None

    def send_head(self):
        resolved = self._resolve()
        if resolved is None:
            self.send_error(404)
            return None
        path, status = resolved
        body = path.open("rb")
        self.send_response(status)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Length", str(path.stat().st_size))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        return body

    def log_message(self, format: str, *args) -> None:  # noqa: A002  (quiet: pytest captures nothing useful)
        pass


class StaticSite:
    """Serves `root` on http://127.0.0.1:<free port> until stopped (a context manager)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> StaticSite:
        handler = partial(_SiteHandler, directory=str(self.root))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="static-site", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
            self._server = self._thread = None

    def __enter__(self) -> StaticSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
