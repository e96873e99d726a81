"""Issue 8: the prod server holds more than 1,024 streams and keeps answering everything else;
past the stream cap it answers 503 at once instead of hanging."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import httpx
import pytest

from bench.procs import group_pids
from tests.support.client import open_stream, signup, wait_until
from tests.support.crowd import close_all, open_streams, read_event_ids
from tests.support.server import AppServer, fresh_database_url

STREAMS = 1_500


@pytest.fixture(scope="module")
def roomy_server(tmp_path_factory):
    env = {"NOTIFIER_MAX_STREAMS_PER_USER": str(STREAMS + 10), "NOTIFIER_HEARTBEAT_SECONDS": "15"}
    with AppServer(db_url=fresh_database_url(tmp_path_factory.mktemp("cap")), env=env, name="capacity") as server:
        yield server


def test_more_than_1024_streams_and_the_server_still_answers(roomy_server):
    user = signup(roomy_server.url, "crowd")

    async def scenario():
        opened = await open_streams(roomy_server.port, user.token, STREAMS)
        try:
            statuses = [s.status for s in opened]
            assert statuses.count(200) == STREAMS, f"not all streams got 200: {sorted(set(statuses))}"
            async with httpx.AsyncClient(base_url=roomy_server.url, timeout=5) as client:
                ping = await client.get("/ping")
                posts = await client.get("/api/posts")
                status = await client.get("/system/status")
            assert ping.status_code == 200
            assert posts.status_code == 200 and "items" in posts.json()
            assert status.json()["streams"] >= STREAMS
        finally:
            close_all(opened)

    asyncio.run(scenario())


CROWD = 1_000
BURST = 20


def test_a_burst_to_a_crowd_is_gathered_and_still_arrives_whole_and_in_order(roomy_server):
    """Posts sent 8 at a time while 1,000 streams are open: frames published while an earlier
    fan-out is being written are gathered, several to a write (realtime/writes.py), and every
    stream still gets every post once, in seq order. (Without gathering, this load made granian
    hold back some sends — a pending awaitable — and ~10 % of the streams got an event after a
    later one, until EventStream._write kept later writes behind them.)"""
    reader = signup(roomy_server.url, "crowd-burst")
    poster = signup(roomy_server.url, "crowd-poster")

    async def burst(client: httpx.AsyncClient) -> None:
        gate = asyncio.Semaphore(8)

        async def post(i: int) -> None:
            async with gate:
                r = await client.post("/api/posts", json={"title": f"burst {i}", "body": "b"}, headers=poster.headers)
                assert r.status_code == 201, r.text

        await asyncio.gather(*(post(i) for i in range(BURST)))

    async def gathered(client: httpx.AsyncClient) -> dict:
        return (await client.get("/system/status")).json()["gatheredWrites"]

    async def scenario():
        opened = await open_streams(roomy_server.port, reader.token, CROWD)
        try:
            assert all(s.status == 200 for s in opened)
            async with httpx.AsyncClient(base_url=roomy_server.url, timeout=30) as client:
                for _ in range(3):  # gathering depends on timing: three bursts to see it once
                    before = await gathered(client)
                    await burst(client)
                    ids = await asyncio.wait_for(
                        asyncio.gather(*(read_event_ids(s.reader, "post.created", BURST) for s in opened)), 60
                    )
                    first = ids[0]
                    assert all(a < b for a, b in zip(first, first[1:])), f"not in seq order: {first}"
                    wrong = [got for got in ids if got != first]
                    assert not wrong, f"{len(wrong)} streams got another order than {first}, e.g. {wrong[0]}"
                    after = await gathered(client)
                    if after["frames"] - before["frames"] > after["writes"] - before["writes"]:
                        return
                raise AssertionError(f"three bursts and never more than one gathered frame per write: {after}")
        finally:
            close_all(opened)

    asyncio.run(scenario())


def test_past_the_global_cap_503_arrives_at_once(tmp_path):
    env = {"NOTIFIER_MAX_STREAMS": "20", "NOTIFIER_MAX_STREAMS_PER_USER": "100"}
    with AppServer(db_url=fresh_database_url(tmp_path), env=env, name="cap") as server:
        user = signup(server.url, "capped")

        async def scenario():
            opened = await open_streams(server.port, user.token, 20)
            try:
                assert [s.status for s in opened] == [200] * 20
                started = time.monotonic()
                async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
                    refused = await client.get("/notifications/stream", headers=user.headers)
                elapsed = time.monotonic() - started
                assert refused.status_code == 503
                assert refused.headers["retry-after"].isdigit()
                assert "limit" in refused.json()["detail"]
                assert elapsed < 1.0, f"503 took {elapsed:.2f}s"
            finally:
                close_all(opened)

        asyncio.run(scenario())


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_answer(port: int) -> bytes:
    """What the server answers to a cleartext HTTP/2 connection preface (prior knowledge)."""

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(H2_PREFACE + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # + an empty SETTINGS frame
            await writer.drain()
            return await asyncio.wait_for(reader.read(64), 5)
        finally:
            writer.close()

    return asyncio.run(exchange())


def test_the_server_speaks_http1_only_by_default(base_url, api_server):
    """Cleartext HTTP/2 detection costs granian ~11 KB per held stream (notifier_app/serving.py);
    no browser speaks it, so it is off: an HTTP/2 preface is not answered with HTTP/2 frames."""
    answer = h2_answer(api_server.port)
    is_h2_settings = len(answer) >= 9 and answer[3] == 0x04  # an HTTP/2 frame header of type SETTINGS
    assert not is_h2_settings, f"the server answered in HTTP/2: {answer[:20]!r}"
    assert httpx.get(f"{base_url}/ping", timeout=5).status_code == 200


def test_http2_can_be_switched_back_on(tmp_path):
    with AppServer(db_url=fresh_database_url(tmp_path), env={"NOTIFIER_SERVER_HTTP": "auto"}, name="h2") as server:
        answer = h2_answer(server.port)
    assert len(answer) >= 9 and answer[3] == 0x04, f"expected an HTTP/2 SETTINGS frame, got {answer[:20]!r}"


def io_threads(pid: int) -> int:
    tasks = Path(f"/proc/{pid}/task")
    try:
        return sum((t / "comm").read_text().strip() == "tokio-rt-worker" for t in tasks.iterdir())
    except OSError:  # the process ended meanwhile
        return 0


def test_each_worker_writes_with_two_io_threads(api_server):
    """NOTIFIER_SERVER_THREADS (default 2; granian's own default is 1): with one, a publishing
    request's response waits behind the socket writes of its own fan-out (notifier_app/serving.py)."""
    counts = {pid: io_threads(pid) for pid in group_pids(api_server.process.pid)}
    assert max(counts.values()) == 2, f"granian runtime threads per process: {counts}"


def test_the_allocator_is_configured_before_granian_loads(api_server):
    """jemalloc reads its settings once, when granian loads (notifier_app/serving.py): ours
    returns freed pages at once, ~2 KB less per held stream. Too late, and the server says so."""
    assert "granian was loaded before configure_granian()" not in api_server.log_text()


def test_with_granians_access_log_on_an_ended_stream_is_logged(tmp_path):
    """NOTIFIER_SERVER_ACCESS_LOG=1: a handed-off stream then keeps what granian's access log
    reads from its scope (realtime/streams.py, _slim), so its line is written when it ends."""
    env = {"NOTIFIER_SERVER_ACCESS_LOG": "1"}
    with AppServer(db_url=fresh_database_url(tmp_path), env=env, name="access-log") as server:
        base = f"http://127.0.0.1:{server.port}"
        stream = open_stream(base, signup(base))
        assert stream.status == 200
        stream.close()
        wait_until(
            lambda: re.search(r'"GET /notifications/stream HTTP/1\.1" 200', server.log_text()),
            message=lambda: f"the stream's access-log line; log tail:\n{server.log_tail()}",
        )
        assert "Traceback" not in server.log_text()


def test_by_default_granian_writes_no_access_log(base_url, api_server):
    """The default: off (as Reflex runs granian), and a held stream keeps none of its scope."""
    stream = open_stream(base_url, signup(base_url))
    stream.close()
    assert httpx.get(f"{base_url}/ping", timeout=5).status_code == 200
    assert '"GET /ping HTTP/1.1"' not in api_server.log_text()
