"""Plausible values for an operation, for showing and checking bodies the server would answer.

Docs fill error messages with them and lint renders every error and success body with them to
check it against the documented schema. Values come from the operation's own request examples
where there are some, else from the field's schema, so they look like what clients send.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..spec.model import (
    PLACEHOLDERS,
    IdentityField,
    Ingest,
    Operation,
    ResponseShape,
    item_get,
    properties_of,
)
from .context import numeric_fields

__all__ = [
    "event_properties",
    "first_example",
    "identity_value",
    "placeholder_values",
    "success_body",
    "success_values",
]

# An event id of each format, as the server makes them.
_IDS = {
    "uuid7": "01957e3a-4b5c-7d8e-9f0a-1b2c3d4e5f6a",
    "uuid4": "3f2b8c1e-9a4d-4f6b-8e2a-7c5d1b0e9f3a",
    "ulid": "01JD8X3Y4Z5A6B7C8D9E0F1G2H",
}
# What the server answers for `occurred_at` and `received_at`: RFC 3339 in UTC, milliseconds.
_TIMESTAMP = "2026-06-01T12:00:00.000Z"


def event_properties(op: Operation) -> Mapping[str, Any]:
    """The schemas of one event's fields: the request's, or for a batch, those of an item of its array."""
    return properties_of(op.item_schema)


def _events(op: Operation) -> list[Mapping[str, Any]]:
    """The events of the operation's request examples (each item of a batch example)."""
    bodies = [ex.value for ex in op.request_examples if isinstance(ex.value, Mapping)]
    items_at = op.ingest.items.items if op.ingest else None
    if items_at is None:
        return bodies
    items = [item for body in bodies for item in (item_get(body, items_at) or [])]
    return [item for item in items if isinstance(item, Mapping)]


def first_example(op: Operation, name: str | None) -> Any:
    """Event field `name` in the operation's first example that has it, skipping `<string>` placeholders."""
    if name is None:
        return None
    for event in _events(op):
        value = event.get(name)
        if value is not None and not re.fullmatch(r"<.*>", str(value)):
            return value
    return None


def placeholder_values(op: Operation) -> dict[str, object]:
    """A value for every message placeholder (`spec.PLACEHOLDERS`), from the examples where possible."""
    ingest = _ingest(op)
    key = ingest.dedupe.key if ingest.dedupe else None
    values: dict[str, object] = {
        "event": ingest.event_name or first_example(op, ingest.event_field) or "order.completed",
        "limit": ingest.payload_limit.default_bytes,
        "prefix": ingest.reserved.prefixes[0] if ingest.reserved else "internal.",
        "key": (first_example(op, key.name) if key and key.location == "body" else None) or "key-1",
        "retry_after": 1,
    }
    assert set(values) == set(PLACEHOLDERS), "a placeholder without a sample value"
    return values


def identity_value(op: Operation, field: IdentityField) -> Any:
    """A value of identity `field` as a client would send it: an example, else one of its schema's type."""
    example = first_example(op, field.name)
    if example is not None:
        return example
    schema = event_properties(op).get(field.name) or {}
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    types = schema.get("type")
    kind = types[0] if isinstance(types, list) and types else types
    return {"integer": 42, "number": 42.5}.get(str(kind), "user-42")


def success_values(op: Operation, field: IdentityField) -> dict[str, Any]:
    """The stored event's values a success body is built from, for a request naming `field`.

    The server stores the identity as text (a number as its JSON text), as `identity_value` here;
    `success_body` turns it back into a number where the response schema wants one.
    """
    ingest = _ingest(op)
    value = identity_value(op, field)
    if field.normalize == "lowercase" and isinstance(value, str):
        value = value.lower()
    value = value if isinstance(value, str) else json.dumps(value)
    return {
        "id": ingest.id_prefix + _IDS.get(ingest.id_format, _IDS["uuid7"]),
        "event": placeholder_values(op)["event"],
        "occurred_at": _TIMESTAMP,
        "received_at": _TIMESTAMP,
        "identity_type": field.kind,
        "identity_value": value,
    }


def success_body(
    op: Operation,
    shape: ResponseShape,
    field: IdentityField,
    schema: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of `shape` the server answers for a request naming identity `field`.

    `schema` is the response's (by default `op`'s response of the shape's status); `extra` adds
    values beyond the stored event's (a read answers `payload` and `processing_status`).
    """
    response = op.response(shape.status)
    body = shape.render({**success_values(op, field), **(extra or {})})
    inner = shape.unwrap(body)
    if schema is None:
        schema = response.schema if response else None
    wanted = numeric_fields(shape, schema or {})
    for name, number in wanted.items():
        if number and isinstance(inner.get(name), str):
            inner[name] = _number(inner[name])
    return body


def _number(text: str) -> Any:
    """Stored text answered as the number it reads as, as the server's `answered` does."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int | float) and not isinstance(value, bool) else text


def _ingest(op: Operation) -> Ingest:
    assert op.ingest is not None, f"{op.operation_id} has no x-ingest block"
    return op.ingest
