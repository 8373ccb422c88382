"""What the server templates are given about an ingest operation, derived from the spec model.

The templates only loop and interpolate: the route with its path parameters, the parameters to
check, the security schemes, media types and the documented response schemas are worked out here.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SpecError
from ..spec.model import Operation, ResponseShape, Spec, object_fields, pointer_parts, schema_types

# OpenAPI path templating: `{name}`, where the name may be any text but a brace or a slash.
_PATH_PARAMETER = re.compile(r"\{([^{}/]+)\}")
# The HTTP authentication schemes that answer a 401 with a WWW-Authenticate challenge.
_CHALLENGES = {"bearer": "Bearer", "basic": "Basic"}
_REALM_UNSAFE = re.compile(r'["\\\r\n]')
# Header parameters OpenAPI says to ignore: the body's media type and the credentials say those.
_IGNORED_HEADERS = {("header", "accept"), ("header", "content-type"), ("header", "authorization")}


@dataclass(frozen=True)
class Modules:
    """The generated modules of one operation: its endpoint and its schemas."""

    name: str
    schema: str


def modules(spec: Spec) -> dict[str, Modules]:
    """Each ingest operation's modules by operation id.

    A spec with one ingest operation keeps the plain names `ingest` and `schema`; with several, each
    operation's modules carry its id (`ingest_track`, `schema_track`), so each reads on its own.
    """
    operations = spec.ingest_operations
    if len(operations) == 1:
        return {operations[0].operation_id: Modules("ingest", "schema")}
    found: dict[str, Modules] = {}
    for op in operations:
        suffix = identifier(op.operation_id)
        while f"ingest_{suffix}" in {m.name for m in found.values()}:
            suffix += "_"  # two ids that read the same as identifiers
        found[op.operation_id] = Modules(f"ingest_{suffix}", f"schema_{suffix}")
    return found


def read_modules(spec: Spec) -> dict[str, str]:
    """Each read operation's module by operation id: `read`, or `read_<id>` when there are several."""
    operations = spec.read_operations
    if len(operations) == 1:
        return {operations[0].operation_id: "read"}
    found: dict[str, str] = {}
    for op in operations:
        name = f"read_{identifier(op.operation_id)}"
        while name in found.values():
            name += "_"
        found[op.operation_id] = name
    return found


def endpoints(spec: Spec) -> list[tuple[str, str]]:
    """(module, class) of every operation's endpoint, in the order the routes are matched.

    OpenAPI matches a concrete path before a templated one (`/events/batch` before `/events/{id}`),
    while Starlette takes the first route that matches: so segments that are fixed sort first.
    """
    ingest = modules(spec)
    reads = read_modules(spec)
    found = [(op, ingest[op.operation_id].name, "Ingest") for op in spec.ingest_operations]
    found += [(op, reads[op.operation_id], "Read") for op in spec.read_operations]
    found.sort(key=lambda entry: [bool(_PATH_PARAMETER.search(s)) for s in entry[0].path.split("/")])
    return [(module, kind) for _, module, kind in found]


def identifier(name: str) -> str:
    """A snake_case Python identifier for an operation id (`trackEvent` -> `track_event`)."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    text = re.sub(r"[^0-9a-zA-Z]+", "_", words).strip("_").lower()
    return text if text and not text[0].isdigit() else f"op_{text}"


def route(base_path: str, op: Operation) -> tuple[str, dict[str, str]]:
    """The Starlette route of an operation and the route's name for each path parameter.

    Starlette only reads `{identifier}`, so every parameter gets a slot `p0`, `p1`... in order.
    """
    slots: dict[str, str] = {}

    def slot(match: re.Match[str]) -> str:
        slots.setdefault(match.group(1), f"p{len(slots)}")
        return "{" + slots[match.group(1)] + "}"

    return base_path + _PATH_PARAMETER.sub(slot, op.path), slots


def credential_parameters(op: Operation) -> set[tuple[str, str]]:
    """(location, lower-case name) of the parameters that carry keys, which credentials.py reads."""
    found = set()
    for scheme in op.schemes:
        if scheme.kind in ("bearer", "basic"):
            found.add(("header", "authorization"))
        elif scheme.kind in ("header", "query") and scheme.parameter:
            found.add((scheme.kind, scheme.parameter.lower()))
    return found


def parameters(op: Operation, slots: Mapping[str, str]) -> list[dict[str, Any]]:
    """The path, query and header parameters the server checks (not the security schemes' keys)."""
    keys = credential_parameters(op) | _IGNORED_HEADERS
    # Content-Encoding names the body's coding: read by the body's decoder, not checked as a parameter.
    decoded = op.content_coding_parameter
    return [
        {
            "location": p.location,
            "name": p.name,
            "required": p.required,
            "schema": dict(p.schema),
            "slot": slots.get(p.name, "") if p.location == "path" else "",
        }
        for p in op.parameters
        if p.location in ("path", "query", "header")
        and (p.location, p.name.lower()) not in keys
        and p != decoded
    ]


def schemes(op: Operation) -> tuple[tuple[str, str, str], ...]:
    """(kind, parameter name, the word before the key) of every scheme the operation accepts, in the
    spec's order; for HTTP basic, the parameter is which part is the key (`x-ingest-basic`: user,
    password, both; "" the user name, else the password)."""
    return tuple(
        (s.kind, s.basic_key if s.kind == "basic" else s.parameter or "", s.prefix)
        for s in op.schemes
        if s.supported
    )


def challenge(op: Operation, realm: str) -> dict[str, str] | None:
    """The WWW-Authenticate header of a 401: the operation's HTTP schemes (Basic needs a realm)."""
    names = dict.fromkeys(_CHALLENGES[s.kind] for s in op.schemes if s.kind in _CHALLENGES)
    if not names:
        return None
    quoted = _REALM_UNSAFE.sub("", realm)
    return {"WWW-Authenticate": ", ".join(f'Basic realm="{quoted}"' if n == "Basic" else n for n in names)}


def keys_of(pointer: str) -> tuple[str | int, ...]:
    """The keys leading to a JSON Pointer's value, an array's index as a number (`/errors/0/detail`)."""
    return tuple(int(part) if part.isdigit() else part for part in pointer_parts(pointer))


def media_types(op: Operation) -> tuple[str, ...]:
    """The documented request media types, lower case, without parameters."""
    return tuple(dict.fromkeys(m.partition(";")[0].strip().lower() for m in op.request_media_types))


def response_schema(op: Operation, status: int) -> tuple[dict[str, Any], str]:
    """The documented schema and media type of a success response the server answers."""
    response = op.response(status)
    if response is None:
        raise SpecError(op.operation_id, [f"the x-ingest response {status} is not documented"])
    return dict(response.schema or {}), response.media_type or "application/json"


def epoch_as_text(op: Operation) -> bool:
    """Whether an epoch occurred-at may come as the text of its number: its schema allows a string
    (constrained by a `pattern`, which lint requires), as SDKs that send `"1733461200000"` have it."""
    from .samples import event_properties  # samples reads this module's numeric_fields

    ingest = op.ingest
    if ingest is None or ingest.occurred_at_unit == "rfc3339":
        return False
    return "string" in schema_types(event_properties(op).get(ingest.occurred_at_field) or {})


def constant_body(shape: ResponseShape) -> bytes | None:
    """The bytes answered for a shape that carries no event's values: its text, or nothing at all
    (None: a JSON object built from the event)."""
    return None if shape.kind == "json" else (shape.text or "").encode()


def answer_media_type(shape: ResponseShape, documented: str) -> str | None:
    """The Content-Type of a shape's answer: none when it has no body, else the documented one."""
    return None if shape.kind == "empty" else documented


def numeric_fields(shape: ResponseShape, schema: Mapping[str, Any]) -> dict[str, bool]:
    """For each field of a success body: whether its schema wants a number (stored text is converted)."""
    fields = schema
    if shape.envelope:
        fields = object_fields(schema).properties.get(shape.envelope) or {}
    properties = object_fields(fields).properties
    return {f.name: _wants_number(properties.get(f.name) or {}) for f in shape.fields}


def _wants_number(schema: Mapping[str, Any]) -> bool:
    kinds = schema_types(schema)
    return bool(kinds & {"integer", "number"}) and "string" not in kinds


def batch_schemas(op: Operation, response_schema: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The schemas a batch is judged by: the request without its items, one item, one item's result.

    The request's schema is checked as a whole with its items left out (each item is judged on its
    own); an item's result schema is the `items` of the answer's `results` field.
    """
    batch = op.ingest.batch if op.ingest else None
    assert batch is not None
    request = copy.deepcopy(dict(op.request_schema))
    items_schema = ((request.get("properties") or {}).get(batch.items_field)) or {}
    item = items_schema.pop("items", {})
    fields = response_schema
    if batch.response.envelope:
        fields = object_fields(response_schema).properties.get(batch.response.envelope) or {}
    results = next((f.name for f in batch.response.fields if f.source == "results"), None)
    result = (object_fields(fields).properties.get(results) or {}).get("items", {}) if results else {}
    return {"request": request, "item": dict(item), "result": dict(result)}
