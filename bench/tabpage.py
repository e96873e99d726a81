"""One real Chromium tab for bench.tabs: the exported frontend, served statically, pointed
at the benchmark's backend, and the frames that tab sends and receives on `/_event`.

The frontend is exported once per state of the app's sources (`reflex export
--frontend-only`, in a copy of the project, ~1 minute) with a placeholder backend URL
baked in, and cached under `artifacts/tabs-frontend/<hash>/`; the static server here
replaces the placeholder with the real backend's URL as it serves each file (so one
export serves any port). The page and the backend are different origins on 127.0.0.1
(the backend must allow the site's origin: REFLEX_CORS_ALLOWED_ORIGINS), the same site
(the `access_token` cookie of 127.0.0.1 goes along with the websocket's handshake).

`record_tab` opens one page logged in as one user and records, through the DevTools
protocol, the websocket's handshake request headers and every frame both ways.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time
import zipfile
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.static_site import _SiteHandler
from tests.support.server import ARTIFACTS, PROJECT_DIR, TEST_SECRET, VENV_BIN, free_port

PLACEHOLDER = "127.0.0.1:1"  # the backend "host:port" baked into the cached export
_PLACEHOLDER_RE = re.compile(re.escape(PLACEHOLDER).encode() + rb"(?!\d)")
CACHE = ARTIFACTS / "tabs-frontend"
SOURCES = ["rxconfig.py", "notifier_app", "assets", "reflex.lock"]
PARTS = [*SOURCES, "alembic", "alembic.ini"]
WEB_SKIP = {"build", ".react-router", "backend", "node_modules"}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def source_hash(project: Path) -> str:
    digest = hashlib.sha256()
    for part in SOURCES:
        root = project / part
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if "__pycache__" in path.parts or not path.exists():
                continue
            digest.update(str(path.relative_to(project)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _copy(project: Path, dest: Path) -> Path:
    """The project's sources and `.web/` minus build outputs; node_modules is linked, not copied."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in PARTS:
        src = project / part
        if src.is_dir():
            shutil.copytree(src, dest / part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / part)
    web = PROJECT_DIR / ".web"  # the main checkout's: its node_modules are installed
    if web.is_dir():
        shutil.copytree(web, dest / ".web", symlinks=True, ignore=lambda d, names: WEB_SKIP & set(names)
                        if Path(d) == web else set())
        if (web / "node_modules").is_dir():
            (dest / ".web" / "node_modules").symlink_to(web / "node_modules")
    return dest


def exported_site(project: Path = PROJECT_DIR, say=print, timeout: float = 600) -> Path:
    """The static site of `project`'s frontend (cached by source hash), placeholder backend URL."""
    key = source_hash(project)
    site = CACHE / key / "site"
    if (site / "index.html").exists():
        return site
    work = CACHE / f"{key}.tmp-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    say(f"exporting the frontend of {project} (once per source state; ~1 minute)")
    started = time.monotonic()
    copy = _copy(project, work / "project")
    out = work / "export"
    out.mkdir()
    env = dict(os.environ)
    env.pop("REFLEX_REDIS_URL", None)
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", REFLEX_USE_NPM="1", REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_API_URL=f"http://{PLACEHOLDER}", REFLEX_DEPLOY_URL="http://127.0.0.1:2",
        REFLEX_DB_URL=f"sqlite:///{work / 'export.db'}", NOTIFIER_JWT_SECRET=TEST_SECRET,
    )
    log_path = work / "export.log"
    with open(log_path, "wb") as log:
        result = subprocess.run(
            [str(VENV_BIN / "reflex"), "export", "--frontend-only", "--env", "prod", "--zip-dest-dir", str(out)],
            cwd=copy, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout,
        )
    if result.returncode != 0 or not (out / "frontend.zip").exists():
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"reflex export failed ({result.returncode}); see {log_path}:\n{tail}")
    staged = work / "site"
    with zipfile.ZipFile(out / "frontend.zip") as archive:
        archive.extractall(staged)
    site.parent.mkdir(parents=True, exist_ok=True)
    try:
        staged.rename(site)
    except OSError:
        if not (site / "index.html").exists():  # not another run's export of the same sources
            raise
    shutil.rmtree(work, ignore_errors=True)
    say(f"exported in {time.monotonic() - started:.0f} s -> {site}")
    return site


class _Handler(_SiteHandler):
    """The static host's rules (tests/support/static_site.py), plus the URL swap."""

    backend = PLACEHOLDER

    def send_head(self):
        import io

        resolved = self._resolve()
        if resolved is None:
            self.send_error(404)
            return None
        path, status = resolved
        body = path.read_bytes()
        if path.suffix in (".js", ".mjs", ".html", ".json"):
            body = _PLACEHOLDER_RE.sub(self.backend.encode(), body)
        self.send_response(status)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        return io.BytesIO(body)


class Site:
    """Serves an exported site on 127.0.0.1:<free port>, the backend's host:port swapped in."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = None
        self._thread = None

    def start(self, backend_url: str) -> Site:
        handler = type("Handler", (_Handler,), {"backend": urlsplit(backend_url).netloc})
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port),
                                                       partial(handler, directory=str(self.root)))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="tabs-site", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
            self._server = None


class RealTab:
    """One headless Chromium page, logged in by cookie, with its `/_event` websocket recorded."""

    def __init__(self, site_url: str, backend_url: str, token: str) -> None:
        self.site_url = site_url
        self.backend_url = backend_url
        self.token = token
        self.sent: list[tuple[float, str]] = []  # (Chrome's monotonic time in s, payload)
        self.received: list[tuple[float, str]] = []
        self.handshake: dict | None = None
        self.handshake_response: dict | None = None
        self._pw = self._browser = self._page = None

    def open(self, path: str, timeout: float = 30.0) -> RealTab:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = self._browser.new_context(base_url=self.site_url, viewport={"width": 1280, "height": 800})
        context.set_default_timeout(timeout * 1000)
        context.add_cookies([{"name": "access_token", "value": self.token, "url": self.backend_url,
                              "httpOnly": True, "sameSite": "Lax"}])
        page = self._page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")

        urls: dict[str, str] = {}

        def on_created(params: dict) -> None:
            urls[params.get("requestId")] = params.get("url", "")

        def ours(params: dict) -> bool:
            return "/_event" in urls.get(params.get("requestId"), "")

        def on_request(params: dict) -> None:
            if ours(params) and self.handshake is None:
                self.handshake = {"url": urls[params["requestId"]], **params["request"]}

        def on_response(params: dict) -> None:
            if ours(params) and self.handshake_response is None:
                self.handshake_response = params.get("response")

        def on_frame(into: list):
            def record(params: dict) -> None:
                if ours(params):  # (Chrome's monotonic clock, s; payload)
                    into.append((params["timestamp"], params["response"]["payloadData"]))
            return record

        cdp.on("Network.webSocketCreated", on_created)
        cdp.on("Network.webSocketWillSendHandshakeRequest", on_request)
        cdp.on("Network.webSocketHandshakeResponseReceived", on_response)
        cdp.on("Network.webSocketFrameSent", on_frame(self.sent))
        cdp.on("Network.webSocketFrameReceived", on_frame(self.received))
        page.goto(path)
        return self

    def wait_for(self, predicate, timeout: float) -> bool:
        """Lets the page run until predicate() holds (or the timeout); Playwright's sync API
        delivers events only while it is called."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            self._page.wait_for_timeout(50)
        return predicate()

    def toast_texts(self) -> list[str]:
        return self._page.locator("#toaster .notifier-toast").all_inner_texts()

    def close(self) -> None:
        for closer in (self._browser, self._pw):
            try:
                if closer is self._pw and closer is not None:
                    closer.stop()
                elif closer is not None:
                    closer.close()
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass
        self._browser = self._pw = None


def page_boot(site: Path) -> dict:
    """What the exported page puts in its socket.io CONNECT: the hydrate event's name, the
    compiled initial state's hashes and the state schema (read from its JavaScript)."""
    for script in sorted((site / "assets").glob("*.js")):
        text = script.read_text(errors="replace")
        if "initialStateHashes=" not in text or "stateSchema=" not in text:
            continue
        hashes = re.search(r"initialStateHashes=\[([^\]]*)\]", text)
        schema = re.search(r"stateSchema=[`\"']([0-9a-f]+)", text)
        event = re.search(r"ReflexEvent\([`\"']([A-Za-z0-9_]+\.hydrate_and_load)", text)
        if hashes and schema and event:
            return {"event": event.group(1), "hashes": re.findall(r"[0-9a-f]{16}", hashes.group(1)),
                    "schema": schema.group(1)}
    raise RuntimeError(f"no initialStateHashes/stateSchema/hydrate_and_load in {site}/assets/*.js")


_BOOT_PROBE = """
import asyncio, json
from reflex.state import _resolve_delta, state_snapshot_hashes
from reflex.utils import prerequisites
state = prerequisites.get_and_validate_app().app._state
snapshot = asyncio.run(_resolve_delta(state(_reflex_internal_init=True).dict(initial=True)))
print(json.dumps({"event": state.get_name() + ".hydrate_and_load", "hashes": state_snapshot_hashes(snapshot),
                  "schema": state._to_frontend_schema()}))
"""


def app_boot(project: Path = PROJECT_DIR, timeout: float = 120) -> dict:
    """The same three values as `page_boot`, computed from the app's state classes the way
    Reflex's compiler does (in a child process, in `project`): no frontend build needed."""
    env = dict(os.environ)
    env.pop("REFLEX_REDIS_URL", None)
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", REFLEX_USE_NPM="1",
               REFLEX_TELEMETRY_ENABLED="false", REFLEX_ENV_MODE="prod", NOTIFIER_JWT_SECRET=TEST_SECRET,
               REFLEX_DB_URL="sqlite:///:memory:")
    done = subprocess.run([str(VENV_BIN / "python"), "-c", _BOOT_PROBE], cwd=project, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"computing the page's boot values failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
