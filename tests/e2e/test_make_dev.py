"""Issue 24: the README's `make dev`, as written, on a fresh clone, keeps one backend worker.

`make dev` used to restart its backend every ~1.5 s, forever: Reflex's reload watcher saw
the SQLite database's -wal/-shm files in the project root change. Comments and posts sent
meanwhile were lost without an error. This test clones the current commit (HEAD: what CI
tests; uncommitted changes are not in the clone) into a temporary directory and runs
`make dev` there exactly as a new user would: it creates its own .venv with pip (from
the package index; pip's and npm's caches make repeats faster), migrates, seeds and starts
`reflex run`. Only the ports differ (free ones instead of 3000/8000, through Reflex's own
REFLEX_* variables, which the Makefile passes through untouched). Then, for 60 s:

- bob logs in, writes a post and comments on it, all through the UI (Chromium);
- the backend must not restart: no reload line in make's output ("Compiling:" is
  printed by each new backend worker; granian's "Killing worker"/"reloading" lines), and
  no new backend worker process appears in the process group;
- afterwards both are in the database the clone's `python -m notifier_app` chores use,
  and `git status` of the clone is clean (item 8: no tracked file rewritten by a run).

The whole process group is killed at the end (Vite outlives a plain SIGTERM to `reflex run`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.server import ARTIFACTS, PROJECT_DIR, free_port

WINDOW_SECONDS = 60.0  # the backend must keep its one worker this long, UI work included
READY_TIMEOUT = 240.0  # fresh clone to serving: venv + pip + npm install (≈ 1 min here, caches warm)
# Lines that only a backend (re)start prints. The first worker's come before it serves.
RESTART_LINE = re.compile(r"Compiling:|Killing worker|[Rr]eloading|Changes detected|Spawning worker")


def _clean_environment(frontend_port: int, backend_port: int) -> dict[str, str]:
    """The environment of a new user's shell: no virtualenv on PATH, no project settings,
    and the ports moved off 3000/8000 the way RECIPES says (API URL, deploy URL, CORS)."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("REFLEX_", "NOTIFIER_", "VIRTUAL_ENV", "PYTEST_", "GRANIAN_", "_RJEM_"))
    }
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and not (Path(p).parent / "pyvenv.cfg").exists()]
    env["PATH"] = os.pathsep.join(path)
    for name in ("PYTHONPATH", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):  # not from `make test`
        env.pop(name, None)
    env.update(
        PYTHONUNBUFFERED="1",
        REFLEX_FRONTEND_PORT=str(frontend_port),
        REFLEX_BACKEND_PORT=str(backend_port),
        REFLEX_API_URL=f"http://localhost:{backend_port}",
        REFLEX_DEPLOY_URL=f"http://localhost:{frontend_port}",
        REFLEX_CORS_ALLOWED_ORIGINS=f"http://localhost:{frontend_port}",
    )
    return env


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, process group, command line), from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), cmdline)
    return table


def _descendants(root: int) -> set[int]:
    table = _processes()
    found, frontier = set(), {root}
    while frontier:
        children = {pid for pid, (ppid, _, _) in table.items() if ppid in frontier} - found
        found |= children
        frontier = children
    return found


def _backend_pids(pgid: int) -> set[int]:
    """The `reflex run` processes of the group: the supervisor and its backend worker(s)."""
    return {pid for pid, (_, group, cmd) in _processes().items() if group == pgid and "bin/reflex run" in cmd}


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class MakeDev:
    """`make dev` in `clone`, in a session and process group of its own, output to a file."""

    def __init__(self, clone: Path, log_path: Path):
        self.clone = clone
        self.log_path = log_path
        self.frontend_port = free_port()
        self.backend_port = free_port()
        self.url = f"http://localhost:{self.frontend_port}"
        self.api_url = f"http://localhost:{self.backend_port}"
        self.env = _clean_environment(self.frontend_port, self.backend_port)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                ["make", "dev"], cwd=self.clone, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"`make dev` exited with {self.process.returncode} before serving; {self.log_path}:\n{self.tail()}")
            try:
                if (httpx.get(self.api_url + "/ping", timeout=2).status_code == 200
                        and httpx.get(self.url + "/", timeout=10).status_code == 200):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail(f"`make dev` was not serving {self.url} and {self.api_url}/ping after {timeout:.0f}s; "
                    f"{self.log_path}:\n{self.tail()}")

    def stop(self) -> list[str]:
        """Kill the whole group (and any descendant that left it); returns what survived."""
        proc = self.process
        if proc is None:
            return []
        pgid = proc.pid
        strays = _descendants(proc.pid)
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass
            for pid in strays:  # only processes this test started, by pid
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in strays):
                time.sleep(0.2)
            if not any(Path(f"/proc/{pid}").exists() for pid in strays):
                break
        survivors = [f"{pid} {cmd}" for pid, (_, group, cmd) in _processes().items() if group == pgid or pid in strays]
        survivors += [f"port {port} still listening" for port in (self.frontend_port, self.backend_port) if _listening(port)]
        return survivors


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 60.0) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _in_database(clone: Path, env: dict[str, str], title: str, comment: str) -> dict:
    """Ask the clone's own code (what `python -m notifier_app migrate|seed` uses) what it stored."""
    script = f"""
import json
from sqlmodel import select
from notifier_app import db
from notifier_app.models import Comment, Post
with db.session() as s:
    posts = s.exec(select(Post).where(Post.title == {title!r})).all()
    comments = s.exec(select(Comment).where(Comment.content == {comment!r})).all()
    print(json.dumps({{"url": db.database_url(), "posts": [p.id for p in posts],
                      "comments": [[c.id, c.post_id] for c in comments]}}))
"""
    out = _run([str(clone / ".venv" / "bin" / "python"), "-c", script], cwd=clone, env=env)
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.timeout(READY_TIMEOUT + WINDOW_SECONDS + 90)  # ≈ 2 min when it passes
def test_make_dev_on_a_fresh_clone_keeps_one_backend_worker(browser, tmp_path):
    for tool in ("git", "make"):
        assert shutil.which(tool), f"{tool} is needed to run the README's `make dev`"
    assert (PROJECT_DIR / ".git").exists(), f"{PROJECT_DIR} is not a git checkout: nothing to clone"
    commit = _run(["git", "rev-parse", "HEAD"], cwd=PROJECT_DIR).strip()
    clone = tmp_path / "notifier"
    _run(["git", "clone", "--quiet", "--no-hardlinks", str(PROJECT_DIR), str(clone)], cwd=tmp_path)
    _run(["git", "checkout", "--quiet", commit], cwd=clone)

    ARTIFACTS.mkdir(exist_ok=True)
    dev = MakeDev(clone, ARTIFACTS / "make-dev-fresh-clone.log")
    timings: dict[str, float] = {}
    done = threading.Event()  # stops the worker sampler
    started = time.monotonic()
    dev.start()
    try:
        dev.wait_ready(READY_TIMEOUT)
        timings["setup and start"] = time.monotonic() - started
        window_start = time.monotonic()
        log_at_ready = len(dev.log())
        pgid = dev.process.pid
        workers_at_ready = _backend_pids(pgid)
        seen_pids = set(workers_at_ready)

        def sample() -> None:  # a restart forks a new worker (~1.5 s apart when it looped)
            while not done.wait(0.25):
                seen_pids.update(_backend_pids(pgid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        stamp = time.monotonic_ns()
        title, comment = f"make dev 글 {stamp}", f"make dev 댓글 {stamp}"
        ui_error = None
        context = browser.new_context(base_url=dev.url, viewport={"width": 1280, "height": 800}, locale="ko-KR")
        context.set_default_timeout(30_000)
        try:
            page = context.new_page()
            page.goto("/login", timeout=90_000)  # Vite compiles each page on its first visit
            page.locator("#login-email").fill("bob@example.com")
            page.locator("#login-password").fill("bob-password")
            page.locator("#login-submit").click()
            expect(page.locator("#nav-nickname")).to_have_text("bob")
            page.locator("#nav-write").click()
            page.locator("#post-title-input").fill(title)
            page.locator("#post-body-input").fill("make dev로 띄운 서버에 브라우저로 쓴 글이에요.")
            page.locator("#post-submit").click()
            expect(page.locator("#post-title")).to_have_text(title)
            page.locator("#comment-content").fill(comment)
            page.locator("#comment-submit").click()
            expect(page.locator(".comment .comment-content").last).to_have_text(comment)
        except Exception as exc:  # reported after the restart count, which explains it
            ui_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        finally:
            context.close()
        timings["UI work"] = time.monotonic() - window_start

        while time.monotonic() - window_start < WINDOW_SECONDS and dev.process.poll() is None:
            time.sleep(0.5)
        timings["window"] = time.monotonic() - window_start
        done.set()
        sampler.join(5)
        workers_at_end = _backend_pids(pgid)
        alive = dev.process.poll() is None
        after_ready = dev.log()[log_at_ready:]
        restart_lines = [line.strip() for line in after_ready.splitlines() if RESTART_LINE.search(line)]
        new_pids = sorted(seen_pids - workers_at_ready)
    finally:
        done.set()
        survivors = dev.stop()
    timings["total"] = time.monotonic() - started
    print("\nmake dev on a fresh clone: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()))
    print(f"restart lines after ready: {len(restart_lines)}; new backend processes: {len(new_pids)}")

    assert not survivors, f"processes of `make dev` survived the kill: {survivors}"
    assert alive, f"`make dev` exited during the {WINDOW_SECONDS:.0f}s window; {dev.log_path}:\n{dev.tail()}"
    assert not restart_lines and not new_pids, (
        f"the dev backend restarted during {timings['window']:.0f}s: {len(restart_lines)} restart lines "
        f"(e.g. {restart_lines[:3]}), {len(new_pids)} new `reflex run` processes {new_pids[:10]} "
        f"(at ready: {sorted(workers_at_ready)}, at end: {sorted(workers_at_end)}); UI: {ui_error or 'ok'}; "
        f"see {dev.log_path}"
    )
    assert workers_at_end == workers_at_ready, (workers_at_ready, workers_at_end)
    assert ui_error is None, f"the post and comment through the UI failed: {ui_error}"

    stored = _in_database(clone, dev.env, title, comment)
    assert stored["url"].startswith("sqlite:///"), stored
    assert len(stored["posts"]) == 1, f"the post made through the UI is not in {stored['url']}: {stored}"
    assert [c[1] for c in stored["comments"]] == stored["posts"], f"the comment is not in {stored['url']}: {stored}"

    dirty = _run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=clone)
    assert not dirty.strip(), f"`make dev` left the clone's `git status` dirty:\n{dirty}"
    shutil.rmtree(clone, ignore_errors=True)  # ~750 MB (.venv, node_modules); kept when the test fails
