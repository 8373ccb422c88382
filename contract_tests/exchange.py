"""One request the suite sends, what it expects back, and what came back.

A `Probe` is plain data, so a failure can always be printed as a `curl` line that reproduces it.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import shlex
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from ingestspec.generator.spec.model import FORM_MEDIA_TYPE, Operation, ResponseShape

from . import apikeys
from .credentials import Credentials, credentials
from .transport import Transport


class _NotJson:
    def __repr__(self) -> str:
        return "<not JSON>"


# Sentinel for a body that is not JSON (None is a valid JSON body).
NOT_JSON: Any = _NotJson()


@dataclass(frozen=True)
class Reply:
    """The response to a probe, read once."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    elapsed: float = 0.0

    @property
    def media_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def json(self) -> Any:
        try:
            return orjson.loads(self.content)
        except orjson.JSONDecodeError:
            return NOT_JSON

    @classmethod
    def from_httpx(cls, response: httpx.Response) -> Reply:
        return cls(
            response.status_code, dict(response.headers), response.content, response.elapsed.total_seconds()
        )


@dataclass(frozen=True)
class Expectation:
    """What the spec says a probe must get: a status and either a catalogue error or a body shape."""

    status: int
    error: str | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    shape: ResponseShape | None = None
    # Expected values of the stored event, by `source` (event, identity_type, occurred_at, ...).
    values: Mapping[str, Any] = field(default_factory=dict)
    # One of these values for the identity type (a field's name or its kind).
    identity_types: tuple[str, ...] = ()


@dataclass
class Probe:
    """A request of a scenario (or of the fuzzer) and its expectation; `reply` once sent."""

    scenario: str
    op: Operation
    method: str
    url: str
    headers: dict[str, str]
    content: bytes
    expect: Expectation | None = None
    reply: Reply | None = None

    @property
    def body(self) -> Any:
        try:
            return orjson.loads(self.content)
        except orjson.JSONDecodeError:
            return NOT_JSON

    def curl(self) -> str:
        """A shell command that sends this exact request."""
        parts = ["curl", "-sS", "-i", "-X", self.method, shell_text(self.url)]
        for name, value in self.headers.items():
            parts += ["-H", shell_text(f"{name}: {value}")]
        if self.content:
            parts += ["--data-binary", shell_bytes(self.content)]
        return " ".join(parts)


def shell_text(text: str) -> str:
    """A bash argument for `text`; an API key in it becomes a reference to the variable holding it
    (`"$INGESTSPEC_API_KEY"`), so no curl line spells a key."""
    if not apikeys.masks(text):
        return shlex.quote(text)
    escaped = "".join("\\" + c if c in '"$`\\' else c for c in text)
    return '"' + apikeys.mask(escaped) + '"'


def shell_bytes(content: bytes) -> str:
    """A bash argument for `curl --data-binary` that sends exactly `content`."""
    text = _printable(content)
    if text is not None:
        head = text.rstrip(" ")
        pad = len(text) - len(head)
        if pad > 16:
            # Long space padding (the oversize scenarios) is rebuilt instead of spelled out.
            return f"\"$(printf '%s%*s' {shell_text(head)} {pad} '')\""
        return shell_text(text)
    # Control characters, NUL or bytes that are not UTF-8: printf spells every byte into a file.
    return "@<(printf '" + "".join(_printf_byte(b) for b in content) + "')"


def _printable(content: bytes) -> str | None:
    try:
        text = content.decode()
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None


def _printf_byte(byte: int) -> str:
    if 0x20 <= byte < 0x7F and chr(byte) not in "'\\%":
        return chr(byte)
    return f"\\x{byte:02x}"


def json_bytes(value: Any) -> bytes:
    """Compact JSON; integers beyond 64 bits fall back to the standard library."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def takes_form(op: Operation) -> bool:
    """Whether the operation's first media type is a form whose field carries the JSON document."""
    return op.form is not None and op.request_media_type.lower() == FORM_MEDIA_TYPE


def form_value(op: Operation, document: bytes) -> str:
    """The form field's value carrying the JSON `document` (base64 when the field's `contentEncoding`
    says so), as Mixpanel's SDK sends `data=`."""
    assert op.form is not None
    return (base64.b64encode(document) if op.form.base64 else document).decode("utf-8", "replace")


def form_content(op: Operation, document: bytes) -> bytes:
    """A form-encoded body carrying the JSON `document` in the operation's field."""
    assert op.form is not None
    return urlencode({op.form.name: form_value(op, document)}).encode()


def encoded(content: bytes, coding: str) -> bytes:
    """`content` in an HTTP content coding: gzip (RFC 1952) or deflate (the zlib format, RFC 1950)."""
    if coding == "gzip":
        return gzip.compress(content)
    if coding == "deflate":
        return zlib.compress(content)
    raise ValueError(f"no encoder for the content coding {coding!r}")


def probe(
    scenario: str,
    op: Operation,
    url: str,
    *,
    key: str | None,
    body: Any = None,
    content: bytes | None = None,
    media_type: str | None = None,
    method: str | None = None,
    expect: Expectation | None = None,
    extra_headers: Mapping[str, str] | None = None,
    creds: Credentials | None = None,
) -> Probe:
    """A probe for `op`: JSON `body` (or raw `content`) sent with `key` where the operation's security
    scheme (or body field) says; `creds` instead places a key some other way."""
    creds = creds if creds is not None else credentials(op, key)
    headers: dict[str, str] = dict(creds.headers)
    body = creds.into(body)
    url = creds.url(url)
    payload = content if content is not None else (json_bytes(body) if body is not None else b"")
    if payload and media_type is None and takes_form(op):
        # The JSON document (or the raw bytes standing for it) travels in the form's field.
        payload = form_content(op, payload)
    if payload:
        headers["Content-Type"] = media_type or op.request_media_type
    headers.update(extra_headers or {})
    return Probe(scenario, op, method or op.method, url, headers, payload, expect)


# How the message of a test that got no reply starts (the JUnit file makes it an `<error>`).
NO_ANSWER = "no answer:"


class NoAnswer(Exception):
    """A request got no reply (refused, reset, TLS, timeout); the message says why, to the root."""


def cause(exc: BaseException) -> str:
    """What went wrong on the wire, down to its root, in one line."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(parts) < 4:
        text = str(current) or type(current).__name__
        if text not in parts:
            parts.append(text)
        current = current.__cause__ or current.__context__
    return f"{type(exc).__name__}: " + " <- ".join(parts)


def send(client: httpx.Client, item: Probe) -> Reply:
    """Send one probe and keep its reply on it; `NoAnswer` when none comes."""
    try:
        response = client.request(item.method, item.url, headers=item.headers, content=item.content)
    except httpx.HTTPError as exc:
        raise NoAnswer(cause(exc)) from exc
    item.reply = Reply.from_httpx(response)
    return item.reply


def send_together(items: Sequence[Probe], transport: Transport | None = None) -> list[Reply]:
    """Send probes concurrently, all at once, each on its own connection."""

    chosen = transport or Transport()

    async def run() -> list[Reply]:
        limits = httpx.Limits(max_connections=len(items) + 1)
        async with chosen.async_client(limits=limits, headers=dict(chosen.headers)) as client:
            barrier = asyncio.Event()

            async def one(item: Probe) -> Reply:
                await barrier.wait()
                try:
                    response = await client.request(
                        item.method, item.url, headers=item.headers, content=item.content
                    )
                except httpx.HTTPError as exc:
                    raise NoAnswer(cause(exc)) from exc
                item.reply = Reply.from_httpx(response)
                return item.reply

            tasks = [asyncio.create_task(one(item)) for item in items]
            await asyncio.sleep(0)
            barrier.set()
            return list(await asyncio.gather(*tasks))

    return asyncio.run(run())
