"""Many SSE streams at once from one asyncio process (raw sockets: cheap per stream)."""

from __future__ import annotations

import asyncio
from typing import NamedTuple


class Opened(NamedTuple):
    status: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


async def open_streams(
    port: int,
    token: str | None,
    count: int,
    *,
    path: str = "/notifications/stream",
    concurrency: int = 200,
    timeout: float = 60.0,
) -> list[Opened]:
    """Open `count` streams to `path` (with the token, if any); each once its headers arrived."""
    gate = asyncio.Semaphore(concurrency)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Accept: text/event-stream\r\n\r\n".encode()

    async def one() -> Opened:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), timeout)
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            return Opened(int(status_line.split()[1]), reader, writer)

    return await asyncio.gather(*(one() for _ in range(count)))


async def read_event_ids(reader: asyncio.StreamReader, event_type: str, count: int) -> list[int]:
    """The `id:`s of the next `count` events of a type on a chunked SSE stream (other
    events and keep-alives are skipped; chunk-size lines never look like SSE fields)."""
    ids: list[int] = []
    current: int | None = None
    while len(ids) < count:
        line = (await reader.readline()).rstrip(b"\r\n")
        if not line and reader.at_eof():
            raise AssertionError(f"the stream ended after {ids}")
        if line.startswith(b"id: "):
            current = int(line[4:])
        elif line.startswith(b"data: ") and f'"type":"{event_type}"'.encode() in line and current is not None:
            ids.append(current)
            current = None
    return ids


def close_all(opened: list[Opened]) -> None:
    """Reset every connection at once, as crashed clients would."""
    for stream in opened:
        stream.writer.transport.abort()
