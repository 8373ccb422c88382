"""How a request carries an API key, as the operation's OpenAPI `security` (or `credential_field`) says.

One alternative of the operation's `security` is used: the first whose schemes the suite can send
(bearer, basic with the key as the part `x-ingest-basic` names, an `apiKey` header, query
parameter or cookie). An operation whose key travels in a body field (`x-ingest` `credential_field`) gets it
there instead. A keyless collector (`x-ingest` `project_field`) takes no key: the "key" is the
project's public token, written at its pointer in every item (each item of a batch alike).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from ingestspec.generator.spec.model import Operation, SecurityScheme, field_pointer, item_get, pointer_set

# Kinds of `Authorization` header schemes, and the header they use.
AUTHORIZATION = "Authorization"
HTTP_KINDS = ("bearer", "basic")


@dataclass(frozen=True)
class Credentials:
    """Where one key goes in one request: headers, query parameters, a body field."""

    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, str] = field(default_factory=dict)  # by the field's JSON Pointer
    # A keyless collector's token, by its pointer in each item; the items' pointer in a batch body.
    item: Mapping[str, str] = field(default_factory=dict)
    items_at: str | None = None

    def url(self, url: str) -> str:
        """`url` with the query parameters added."""
        if not self.query:
            return url
        parts = urlsplit(url)
        query = "&".join(q for q in (parts.query, urlencode(dict(self.query))) if q)
        return urlunsplit(parts._replace(query=query))

    def into(self, body: Any) -> Any:
        """A copy of a JSON body with the key at its field's pointer (bodies that are not objects
        are left alone)."""
        if self.items_at == "" and isinstance(body, list):
            return [self.into_item(each) for each in body]  # a batch that is a bare array
        if not (self.body or self.item) or not isinstance(body, Mapping):
            return body
        result = copy.deepcopy(dict(body))
        for pointer, key in self.body.items():
            pointer_set(result, pointer, key)
        if self.items_at is None:
            return self.into_item(result)
        items = item_get(result, self.items_at)
        if isinstance(items, list):
            items[:] = [self.into_item(each) for each in items]
        return result

    def into_item(self, item: Any) -> Any:
        """A copy of one item (an object) with the token at its pointer; anything else as it is."""
        if not self.item or not isinstance(item, Mapping):
            return item
        result = copy.deepcopy(dict(item))
        for pointer, token in self.item.items():
            pointer_set(result, pointer, token)
        return result


def basic_token(key: str, part: str = "") -> str:
    """HTTP basic credentials with `key` where the scheme's `x-ingest-basic` puts it: the password
    (no user name), both (the key is `user:password`), else the user name and no password
    (Segment's write key)."""
    text = {"password": f":{key}", "both": key}.get(part, f"{key}:")
    return base64.b64encode(text.encode()).decode()


def scheme_value(scheme: SecurityScheme, key: str) -> tuple[str, str]:
    """The (header or query parameter name, value) carrying `key` under `scheme`."""
    if scheme.kind == "bearer":
        return AUTHORIZATION, f"Bearer {key}"
    if scheme.kind == "basic":
        return AUTHORIZATION, "Basic " + basic_token(key, scheme.basic_key)
    assert scheme.parameter is not None
    return scheme.parameter, f"{scheme.prefix} {key}" if scheme.prefix else key


def alternative(op: Operation) -> tuple[SecurityScheme, ...]:
    """The schemes of the first alternative the suite can send (all supported), else none."""
    for schemes in op.security:
        if schemes and all(s.supported for s in schemes):
            return schemes
    return ()


def for_schemes(schemes: tuple[SecurityScheme, ...], key: str) -> Credentials:
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    cookies: list[str] = []
    for scheme in schemes:
        name, value = scheme_value(scheme, key)
        if scheme.kind == "cookie":
            cookies.append(f"{name}={value}")
        else:
            (query if scheme.kind == "query" else headers)[name] = value
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    return Credentials(headers, query)


def credentials(op: Operation, key: str | None) -> Credentials:
    """How `key` travels in a request of `op`; no key, no credentials."""
    if key is None:
        return Credentials()
    if op.ingest is not None and op.ingest.credential_field:
        return Credentials(body={field_pointer(op.ingest.credential_field): key})
    if op.ingest is not None and op.ingest.items.project:
        return Credentials(item={op.ingest.items.project: key}, items_at=op.ingest.items.items)
    return for_schemes(alternative(op), key)


def needs_key(op: Operation) -> bool:
    """Whether every request of `op` must carry a key (a security requirement or a body field) or,
    on a keyless collector, a project token in every item."""
    return op.secured or bool(op.ingest and (op.ingest.credential_field or op.ingest.project_field))


def sendable_schemes(op: Operation) -> tuple[SecurityScheme, ...]:
    """Every scheme of the operation the suite can send a key by."""
    return tuple(s for s in op.schemes if s.supported)


def unaccepted_scheme(op: Operation) -> SecurityScheme | None:
    """An HTTP scheme the operation does not accept (a valid key sent by it must be refused); none
    when an `apiKey` header named Authorization would read any of them."""
    headers = {(s.parameter or "").lower() for s in op.schemes if s.kind == "header"}
    if AUTHORIZATION.lower() in headers:
        return None
    # A key carried in a body field is not read from any header.
    accepted = set() if op.ingest and op.ingest.credential_field else {s.kind for s in op.schemes}
    kind = next((k for k in HTTP_KINDS if k not in accepted), None)
    return SecurityScheme(f"contract-test-{kind}", kind) if kind else None
