"""Many SSE streams at once from one asyncio process (raw sockets: cheap per stream)."""

from __future__ import annotations

import asyncio


async def open_streams(
    port: int, token: str, count: int, *, concurrency: int = 200, timeout: float = 60.0
) -> list[tuple[int, asyncio.StreamWriter]]:
    """Open `count` streams to /notifications/stream; (status, writer) once headers arrived."""
    gate = asyncio.Semaphore(concurrency)
    request = (
        f"GET /notifications/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()

    async def one():
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), timeout)
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            return int(status_line.split()[1]), writer

    return await asyncio.gather(*(one() for _ in range(count)))


def close_all(opened: list[tuple[int, asyncio.StreamWriter]]) -> None:
    """Reset every connection at once, as crashed clients would."""
    for _, writer in opened:
        writer.transport.abort()
