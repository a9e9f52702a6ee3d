"""A minimal HTTP/1.1 keep-alive client for the load generator.

The load generator shares the machine's cores with the server under test and its
database, so every microsecond it spends per request is taken from what is measured.
A general client (aiohttp: about 0.3 ms of CPU per request here) costs a fifth of the
machine at 1,500 requests/s; this one writes a request prepared as bytes and reads the
answer's status line, ``Content-Length`` and body, nothing more: a few tens of
microseconds a request.

It speaks only what the servers under test answer: HTTP/1.1 with ``Content-Length``, one
request at a time on each connection. Anything else (no length, a closed connection) is
an error of that request, never a silent success.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

__all__ = ["Connection", "HttpAnswerError", "connect"]


class HttpAnswerError(Exception):
    """The server's answer could not be read (closed connection, no Content-Length)."""


class Connection(asyncio.Protocol):
    """One keep-alive connection: :meth:`request` sends and waits for the whole answer."""

    def __init__(self, host: str) -> None:
        self._host = host
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._take_answer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(HttpAnswerError(f"connection closed: {exc!r}"))

    def _take_answer(self) -> None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0 or self._waiter is None:
            return
        head = bytes(self._buffer[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            self._waiter.set_exception(HttpAnswerError(f"no content-length: {head[:200]!r}"))
            self._waiter = None
            return
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop > 0 else len(head)])
        body_at = end + 4
        if len(self._buffer) < body_at + length:
            return
        status = int(head[9:12])
        body = bytes(self._buffer[body_at : body_at + length])
        del self._buffer[: body_at + length]
        waiter, self._waiter = self._waiter, None
        waiter.set_result((status, body))

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request and return (status, body) of its answer."""
        if self._transport is None:
            raise HttpAnswerError("connection closed")
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self._host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(head.encode() + body)
        return await self._waiter

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def connect(base: str) -> Connection:
    """A new keep-alive connection to the server of ``base`` (``http://host:port``)."""
    parts = urlsplit(base)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"not an http://host:port URL: {base}")
    host, port = parts.hostname, parts.port
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: Connection(f"{host}:{port}"), host, port)
    return protocol
