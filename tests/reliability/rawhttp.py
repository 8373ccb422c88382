"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for loads a Python test can afford.

httpx's async client spends more CPU per request than the server under test on a two-CPU machine;
this one only writes a request and reads a Content-Length response, which is all the servers send.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson


@dataclass
class Reply:
    status_code: int
    headers: dict[str, str]  # names in lower case
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return orjson.loads(self.content)


class Connection:
    """One keep-alive connection to `url`'s host; reconnects after a failure. Errors are OSError."""

    def __init__(self, url: str, headers: dict[str, str], timeout: float = 10) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path or "/"
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.timeout = timeout
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def connect(self) -> None:
        """Open the connection now, so that a later request does not pay for it."""
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)

    async def post_json(self, body: object) -> Reply:
        return await self.post_raw(orjson.dumps(body))

    async def post_raw(self, body: bytes) -> Reply:
        """POST `body` as it is, labelled application/json."""
        try:
            return await asyncio.wait_for(self._exchange(body), self.timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
            await self.close()
            raise ConnectionError(f"no answer: {exc!r}") from exc

    async def _exchange(self, body: bytes) -> Reply:
        await self.connect()
        assert self._streams is not None
        reader, writer = self._streams
        writer.write(
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.head}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        content = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Reply(int(status_line.split(" ", 2)[1]), headers, content)

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
