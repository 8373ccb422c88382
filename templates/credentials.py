"""Where a request carries its API key: an operation's OpenAPI `security` schemes, or a body field.

Each scheme is one alternative: the request is admitted when any of them carries a known key.
bearer: `Authorization: Bearer KEY` (an OAuth 2 or OpenID Connect token too: it is a configured key,
not introspected); basic: `Authorization: Basic` with the key as the part the scheme's
`x-ingest-basic` names (`user`; `password`; `both`, the key being `user:password` so that both parts
are checked), or by default the user name (any password; an empty user name takes the password);
header / query / cookie: an `apiKey` parameter, whose value may have to start with a scheme word and
a space (`Authorization: Vendor-API-Key KEY`; the word in any case).
A key in a body field (x-ingest `credential_field`) is never stored (the body digest leaves it out)
and never logged.

A key is read as sent, less the spaces and tabs HTTP allows around it (RFC 9110 section 5.6.3): no other
whitespace is removed. A request that repeats a header or query parameter holding a key is
ambiguous and carries no key at all, whichever copy would have come first; so does a cookie named
twice in the request's `Cookie` headers.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterator
from typing import Any

import orjson
from starlette.requests import Request

# (kind, parameter name or for basic the key's part, the word before an apiKey's key or "") of an
# operation's schemes, in the spec's order.
Schemes = tuple[tuple[str, str, str], ...]


# HTTP's optional whitespace: the only characters stripped around a key.
_OWS = " \t"


def presented(request: Request, schemes: Schemes) -> list[str]:
    """Each key the request carries, one per scheme that finds one; none when a key is sent twice."""
    keys: list[str] = []
    for kind, parameter, prefix in schemes:
        values = _sent(request, kind, parameter)
        if not values:
            continue
        if len(values) > 1:
            return []
        key = _read(values[0], kind, parameter)
        if key and prefix:
            word, _, key = key.partition(" ")
            key = key.strip(_OWS) if word.lower() == prefix.lower() else ""
        if key:
            keys.append(key)
    return keys


def _sent(request: Request, kind: str, parameter: str) -> list[str]:
    """Every value of the header or query parameter that carries the scheme's key."""
    if kind == "query":
        return request.query_params.getlist(parameter)
    if kind == "cookie":
        # Starlette's cookie parser keeps the last of a repeated name: count the names as sent.
        pairs = (p.partition("=") for h in _raw(request, "cookie") for p in h.split(";"))
        named = sum(name.strip() == parameter for name, _, _ in pairs)
        return [request.cookies.get(parameter, "")] * named
    return _raw(request, parameter if kind == "header" else "authorization")


def _raw(request: Request, header: str) -> list[str]:
    """Every value of a header, from the raw ASGI headers (names in lower case), as Starlette's
    `getlist` reads them without building its `Headers`."""
    name = _header_name(header)
    return [value.decode("latin-1") for key, value in request.scope["headers"] if key == name]


@functools.cache
def _header_name(header: str) -> bytes:
    return header.lower().encode("latin-1")


def _read(value: str, kind: str, parameter: str) -> str | None:
    if kind in ("header", "cookie", "query"):
        return value if kind == "query" else value.strip(_OWS)
    scheme, _, token = value.strip(_OWS).partition(" ")
    token = token.strip(_OWS)
    if scheme.lower() != kind or not token:
        return None
    if kind == "bearer":
        return token
    try:
        user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not parameter:
        return user or password
    if parameter == "both":
        return f"{user}:{password}" if user and password else None
    return password if parameter == "password" else user


def in_body(value: Any) -> str | None:
    """The key read from the body's credential field, when it is a non-empty string."""
    return value if isinstance(value, str) and value else None


# How many members named as the credential field in a body's first bytes are tried as its key, at most.
MAX_KEYS_IN_PREFIX = 4


def prefix_pattern(field: str) -> re.Pattern[bytes]:
    """A member named `field` (the last step of the credential field's pointer), written plainly (no
    escape in its name), and its string value."""
    return re.compile(re.escape(orjson.dumps(field)) + rb'[ \t\r\n]*:[ \t\r\n]*"[^"\\]*(?:\\.[^"\\]*)*"')


def in_prefix(prefix: bytes, pattern: re.Pattern[bytes], steps: tuple[str, ...]) -> Iterator[str]:
    """The keys the first bytes of a body hold at the credential field's place (`steps`: its JSON
    Pointer's member names, from the top), before the whole body is read (a few at most).

    Each member named as the field (`pattern`, found in C) is checked where it is: the prefix is cut
    after its value and closed as a document (`closed`), and the key is the string at `steps` of
    it. A member of that name elsewhere (in a payload) is not taken for the key, and the work is a
    few parses of the prefix by orjson at most."""
    found: set[str] = set()
    for _, match in zip(range(MAX_KEYS_IN_PREFIX), pattern.finditer(prefix), strict=False):
        node = closed(prefix[: match.end()], len(steps))
        for step in steps:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, str) and node and node not in found:
            found.add(node)
            yield node


def closed(text: bytes, levels: int) -> Any:
    """The JSON document `text` begins, cut after a member's value and closed by `levels` brackets,
    each the one orjson takes there (the other stops it before the end); None when it is not JSON
    up to the cut, or is open deeper than `levels`."""
    for _ in range(levels):
        for closer in (b"}", b"]"):
            try:
                return orjson.loads(text + closer)
            except orjson.JSONDecodeError as exc:
                if exc.pos > len(text):  # the closer was taken: more are needed
                    text += closer
                    break
        else:
            return None
    return None
