"""Faults answer fast and clearly (issue 21, item 7), against the real server.

- A valid token whose account is gone, or whose `sub` names no possible account, is a 401
  with a JSON detail on every authenticated route and stream (a cached account deleted
  by hand used to make writes a 500; a `sub` of 2**70 overflowed the driver: a 500).
- A database that is locked by another connection is a 503 with Retry-After and a JSON
  detail within seconds (NOTIFIER_DB_TIMEOUT_SECONDS), not a 500 after SQLite's 30 s
  busy timeout; nothing is written.
The module's autouse fixture also fails it if the server logged a traceback.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from tests.api.helpers import assert_json_error, mint, opened
from tests.support.client import Account, create_post, signup
from tests.support.server import database_backend


@pytest.fixture(scope="module")
def author(base_url) -> Account:
    return signup(base_url, "fault-author")


@pytest.fixture(scope="module")
def post_id(base_url, author) -> int:
    return create_post(base_url, author, title="faults")["id"]


def authenticated_requests(post_id: int) -> dict[str, tuple[str, str, dict | None]]:
    """Every route that needs a caller: (method, path, JSON body)."""
    return {
        "me": ("GET", "/api/me", None),
        "inbox": ("GET", "/api/notifications", None),
        "read-all": ("POST", "/api/notifications/read-all", None),
        "read-one": ("POST", "/api/notifications/1/read", None),
        "post": ("POST", "/api/posts", {"title": "t", "body": "b"}),
        "comment": ("POST", f"/api/posts/{post_id}/comments", {"content": "c"}),  # the hot path
        "notice": ("POST", "/notifications/send", {"title": "t", "message": "m"}),
        "entity-update": ("POST", "/realtime/update", {"entityType": "note", "entityId": "1", "action": "x"}),
        "chat": ("POST", "/chat/send", {"roomId": "general", "message": "hi"}),
    }


STREAMS = {
    "notifications": "/notifications/stream",
    "entities": "/realtime/stream?entity=note:1",
    "chat": "/chat/stream?room=general",
}


def call(base_url: str, token: str, method: str, path: str, body: dict | None) -> httpx.Response:
    return httpx.request(method, base_url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def assert_refused_everywhere(base_url: str, token: str, post_id: int) -> None:
    for name, (method, path, body) in authenticated_requests(post_id).items():
        r = call(base_url, token, method, path, body)
        assert r.status_code == 401, f"{name}: {r.status_code} {r.text[:300]}"
        assert_json_error(r, 401)
    for name, path in STREAMS.items():
        with opened(base_url + path, headers={"Authorization": f"Bearer {token}"}) as r:
            r.read()
            assert r.status_code == 401, f"{name} stream: {r.status_code}"
            assert_json_error(r, 401)
        sep = "&" if "?" in path else "?"
        with opened(f"{base_url}{path}{sep}token={token}") as r:  # as EventSource sends it
            r.read()
            assert_json_error(r, 401)


# -- tokens that name no account --------------------------------------------------------


@pytest.mark.parametrize("sub", [2**70, 2**63, 2**31, -1, 0, "05", "1e3", " 5", "5_0", "５", "alice"])
def test_a_token_whose_sub_is_no_possible_account_is_401_everywhere(base_url, post_id, sub):
    assert_refused_everywhere(base_url, mint(sub), post_id)


def delete_account(db_url: str, user_id: int) -> None:
    """What an operator does by hand: the account's row goes (with what refers to it)."""
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for table in ("notification_reads", "notification_read_watermarks"):
                conn.execute(sa.text(f"DELETE FROM {table} WHERE user_id = :id"), {"id": user_id})
            assert conn.execute(sa.text("DELETE FROM users WHERE id = :id"), {"id": user_id}).rowcount == 1
    finally:
        engine.dispose()


def test_a_deleted_account_s_token_is_401_everywhere(base_url, api_server, post_id):
    gone = signup(base_url, "deleted-unseen")
    delete_account(api_server.db_url, gone.id)
    assert_refused_everywhere(base_url, gone.token, post_id)


@pytest.mark.parametrize("write", ["post", "comment", "chat", "read-all"])
def test_a_deleted_account_still_remembered_is_401_on_a_write_and_then_everywhere(base_url, api_server, post_id, write):
    """The server remembers accounts for a few seconds (auth/accounts.py): the write itself
    meets the missing account (a foreign key) and answers 401, and forgets it."""
    gone = signup(base_url, f"deleted-{write}")
    assert call(base_url, gone.token, "GET", "/api/me", None).status_code == 200  # now remembered
    delete_account(api_server.db_url, gone.id)
    method, path, body = authenticated_requests(post_id)[write]
    r = call(base_url, gone.token, method, path, body)
    assert_json_error(r, 401)
    assert "no longer exists" in r.json()["detail"]
    assert_refused_everywhere(base_url, gone.token, post_id)


# -- a locked database -------------------------------------------------------------------


@contextlib.contextmanager
def write_lock(db_url: str):
    """Another connection holds the database's write lock (SQLite: BEGIN IMMEDIATE;
    PostgreSQL: the tables locked against writes, readers still let through)."""
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        if database_backend() == "sqlite":
            raw = engine.raw_connection()
            try:
                raw.driver_connection.isolation_level = None  # our own BEGIN
                raw.driver_connection.execute("BEGIN IMMEDIATE")
                yield
                raw.driver_connection.execute("ROLLBACK")
            finally:
                raw.close()
        else:
            with engine.connect() as conn:
                tx = conn.begin()
                conn.execute(sa.text("LOCK TABLE users, posts, comments, chat_messages, notification_read_watermarks IN EXCLUSIVE MODE"))
                yield
                tx.rollback()
    finally:
        engine.dispose()


def counts(db_url: str) -> dict[str, int]:
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return {
                table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("users", "posts", "comments", "chat_messages")
            }
    finally:
        engine.dispose()


def test_a_locked_database_is_a_quick_503_and_nothing_is_written(base_url, api_server, author, post_id):
    writer = signup(base_url, "lock-writer")
    assert call(base_url, writer.token, "GET", "/api/me", None).status_code == 200  # remembered: no read needed
    writes = {
        "signup": lambda: httpx.post(
            f"{base_url}/api/auth/signup",
            json={"email": f"locked.{time.monotonic_ns()}@example.com", "nickname": "locked", "password": "password-123"},
            timeout=30,
        ),
        "post": lambda: call(base_url, writer.token, "POST", "/api/posts", {"title": "locked", "body": "b"}),
        "comment": lambda: call(base_url, writer.token, "POST", f"/api/posts/{post_id}/comments", {"content": "locked"}),
        "chat": lambda: call(base_url, writer.token, "POST", "/chat/send", {"roomId": "general", "message": "locked"}),
        "read-all": lambda: call(base_url, writer.token, "POST", "/api/notifications/read-all", None),
    }

    def timed(name):
        start = time.monotonic()
        r = writes[name]()
        return name, r, time.monotonic() - start

    before = counts(api_server.db_url)
    with write_lock(api_server.db_url):
        with ThreadPoolExecutor(len(writes)) as pool:
            results = list(pool.map(timed, writes))
        # Reads go on meanwhile.
        assert httpx.get(f"{base_url}/api/posts/{post_id}", timeout=10).status_code == 200
    for name, r, elapsed in results:
        body = assert_json_error(r, 503)
        assert "database" in body["detail"].lower(), (name, body)
        assert int(r.headers["retry-after"]) > 0, (name, r.headers)
        assert elapsed < 5.0, f"{name} took {elapsed:.1f}s"
    assert counts(api_server.db_url) == before, "a refused write changed something"
    # The lock released, the same writes go through.
    assert call(base_url, writer.token, "POST", "/api/posts", {"title": "after", "body": "b"}).status_code == 201
    assert call(base_url, writer.token, "POST", f"/api/posts/{post_id}/comments", {"content": "after"}).status_code == 201


# -- an unreachable database ---------------------------------------------------------


class Cuttable:
    """A TCP relay to the database that the test can cut, as a network failure would."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list = []
        self.open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.open:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                b.close()

    def cut(self) -> None:
        self.open = False
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
        self.listener.close()


@pytest.mark.skipif(database_backend() != "postgres", reason="a server database that can go away: PostgreSQL")
def test_an_unreachable_database_is_a_quick_503():
    """The database goes away under a running server: 503 + Retry-After + JSON, at once
    (a refused connection) or within the connect timeout, and no traceback."""
    from sqlalchemy.engine import make_url

    from tests.api.helpers import assert_no_traceback
    from tests.support.server import AppServer, fresh_database_url

    url = make_url(fresh_database_url())
    relay = Cuttable(url.host or "127.0.0.1", url.port or 5432)
    with AppServer(db_url=url.set(port=relay.port).render_as_string(hide_password=False), name="unreachable") as server:
        base = server.url
        user = signup(base, "unreachable")
        post = create_post(base, user)
        relay.cut()
        requests = {
            "posts": ("GET", "/api/posts", None),
            "post": ("POST", "/api/posts", {"title": "t", "body": "b"}),
            "comment": ("POST", f"/api/posts/{post['id']}/comments", {"content": "c"}),
            "signup": ("POST", "/api/auth/signup", {"email": "gone@example.com", "nickname": "g", "password": "password-123"}),
        }
        for name, (method, path, body) in requests.items():
            start = time.monotonic()
            r = call(base, user.token, method, path, body)
            elapsed = time.monotonic() - start
            assert_json_error(r, 503)
            assert int(r.headers["retry-after"]) > 0, name
            assert elapsed < 5.0, f"{name} took {elapsed:.1f}s"
        assert_no_traceback(server)
