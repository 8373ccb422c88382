"""uvicorn's httptools protocol with bounds on how many connections, how large a head and how slow
a request may be; its refusals in the API's error envelope.

httptools buffers a request line and headers of any size, uvicorn holds a connection that sends
nothing for as long as the client likes (its keep-alive timeout starts only after a first answer)
and accepts every connection: a client could hold megabytes, or every file the process may open.

- More than `MAX_CONNECTIONS` open (4096, or fewer when the process may open fewer files, so
  that the cap answers before accept() fails for want of descriptors): the new one is answered
  503 (`storage_unavailable`, with `Retry-After`: nothing was accepted) and closed.
- A request not fully received `READ_TIMEOUT_SECONDS` after the connection opened (or after the
  previous answer on it) is answered 408 (`request_timeout`) and closed; a connection that sent
  nothing at all is closed without an answer, as there is no request to answer. Deadlines are
  checked every `SWEEP_SECONDS`.
- Past `MAX_HEAD_BYTES` of head: 431 (`headers_too_large`) and closed.
- A request that is not HTTP/1.1 (bad framing): 400 (`invalid_request`) and closed; so is one with
  more than one `Host` header (RFC 9112 section 3.2), which proxies and the app could read apart.

The statuses and bodies come from the catalogue (`errors.py`); a spec whose catalogue lacks
`request_timeout` or `headers_too_large` gets a plain-text 408 or 431. Each refusal is logged and
counted in `ingest_requests_rejected_total` by reason, when the app's lifespan shares its metrics.
Both `python -m` and an ASGI server given `--http <package>.protocol:BoundedHttpToolsProtocol` use
these limits.
"""

from __future__ import annotations

import asyncio
import http
import logging
import resource
import weakref
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .errors import CATALOGUE, MEDIA_TYPE, error_body


def _connection_cap(ceiling: int = 4096, reserve: int = 256) -> int:
    """`ceiling`, or the files this process may open less `reserve` for the store, logs and the like."""
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if files == resource.RLIM_INFINITY:
        return ceiling
    return max(16, min(ceiling, files - reserve))


MAX_CONNECTIONS = _connection_cap()
MAX_HEAD_BYTES = 64 * 1024
READ_TIMEOUT_SECONDS = 10.0
RETRY_AFTER_SECONDS = 1

logger = logging.getLogger(__name__)


def refusal(key: str, status: int, details: list[dict[str, str]] | None = None, retry: bool = False) -> bytes:
    """A whole HTTP/1.1 answer that closes the connection: the catalogue's `key`, else plain text."""
    if key in CATALOGUE:
        status = CATALOGUE[key][0]
        body, media_type = error_body(key, {}, details), MEDIA_TYPE
    else:
        body, media_type = (http.HTTPStatus(status).phrase + ".\n").encode(), "text/plain; charset=utf-8"
    head = [
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
        f"content-type: {media_type}",
        "connection: close",
        f"content-length: {len(body)}",
    ]
    if retry:
        head.append(f"retry-after: {RETRY_AFTER_SECONDS}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_BUSY = refusal("storage_unavailable", 503, retry=True)
_HEAD_TOO_LARGE = refusal("headers_too_large", 431)
_TOO_SLOW = refusal("request_timeout", 408)
_BAD_FRAMING = refusal("invalid_request", 400, [{"path": "", "message": "the request is not valid HTTP/1.1"}])
_TWO_HOSTS = refusal(
    "invalid_request", 400, [{"path": "header.Host", "message": "a request has one Host header"}]
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Caps connections, counts each request's head bytes and times the reading of each request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._received = False  # any byte on this connection yet
        self._deadline: float | None = None  # loop time by which this request must be read
        self._bad_head = (_BAD_FRAMING, "bad_framing")  # how a head the parser stops at is refused

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > MAX_CONNECTIONS:
            logger.warning(
                "connection refused: %d connections open, at most %d", len(self.connections), MAX_CONNECTIONS
            )
            self._refuse(_BUSY, "too_many_connections")
            return
        self._deadline = self.loop.time() + READ_TIMEOUT_SECONDS
        _watch(self)

    def data_received(self, data: bytes) -> None:
        self._received = True
        if self._in_head:
            if self._deadline is None:
                self._deadline = self.loop.time() + READ_TIMEOUT_SECONDS
            # Only the bytes before the blank line that ends the head count: a body may share the read.
            end = data.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(_HEAD_TOO_LARGE, "headers_too_large")
                return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        self._refuse(*self._bad_head)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if [name for name, _ in self.headers].count(b"host") > 1:
            self._bad_head = (_TWO_HOSTS, "repeated_host")
            raise httptools.HttpParserError("more than one Host header")  # answered by send_400_response
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._cancel_deadline()
        self._in_head = True
        self._head_bytes = 0

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        self._deadline = None
        if not self._received:
            self._count("idle_connection")
            self.transport.close()
            return
        self._refuse(_TOO_SLOW, "request_timeout")

    def _refuse(self, response: bytes, reason: str) -> None:
        self._count(reason)
        # Once the app has begun its answer, the connection can only be cut.
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(response)
        self._cancel_deadline()
        self.transport.close()

    def _count(self, reason: str) -> None:
        if reason != "too_many_connections":  # logged above, with the count
            logger.log(
                logging.DEBUG if reason == "idle_connection" else logging.INFO,
                "connection closed: %s",
                reason,
            )
        metrics = self.app_state.get("metrics")
        if metrics is not None:
            metrics.inc("ingest_requests_rejected_total", {"reason": reason})

    def _cancel_deadline(self) -> None:
        self._deadline = None


# Read deadlines are checked by one timer per event loop, every SWEEP_SECONDS, rather than by a
# timer set and cancelled for every request: a slow request is answered up to SWEEP_SECONDS late.
SWEEP_SECONDS = 1.0
_watched: dict[asyncio.AbstractEventLoop, weakref.WeakSet[BoundedHttpToolsProtocol]] = {}


def _watch(protocol: BoundedHttpToolsProtocol) -> None:
    watched = _watched.get(protocol.loop)
    if watched is None:
        watched = _watched[protocol.loop] = weakref.WeakSet()
        protocol.loop.call_later(SWEEP_SECONDS, _sweep, protocol.loop)
    watched.add(protocol)


def _sweep(loop: asyncio.AbstractEventLoop) -> None:
    watched = _watched[loop]
    now = loop.time()
    for protocol in list(watched):
        if protocol.transport.is_closing():
            watched.discard(protocol)
        elif protocol._deadline is not None and protocol._deadline <= now:
            protocol._too_slow()
    if watched:
        loop.call_later(SWEEP_SECONDS, _sweep, loop)
    else:
        del _watched[loop]  # the next connection starts the sweep again
