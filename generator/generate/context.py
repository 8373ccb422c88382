"""What the server templates are given about an ingest operation, derived from the spec model.

The templates only loop and interpolate: the route with its path parameters, the parameters to
check, the security schemes, media types and the documented response schemas are worked out here.
"""

from __future__ import annotations

import copy
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SpecError
from ..spec.model import (
    IdentityField,
    ItemKind,
    ItemRules,
    Operation,
    ResponseShape,
    Spec,
    admits_null,
    object_fields,
    path_parameter,
    pointer_parts,
    schema_types,
    schemas_at,
)

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
        elif scheme.kind in ("header", "query", "cookie") and scheme.parameter:
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
    assert op.ingest is not None and op.ingest.batch is not None
    batch = op.ingest.batch
    request = copy.deepcopy(dict(op.request_schema))
    items_schema: Any = request
    for part in pointer_parts(op.ingest.items.items or ""):
        items_schema = (items_schema.get("properties") or {}).get(part) or {}
    item = items_schema.pop("items", {})
    fields = response_schema
    if batch.response.envelope:
        fields = object_fields(response_schema).properties.get(batch.response.envelope) or {}
    results = next((f.name for f in batch.response.fields if f.source == "results"), None)
    result = (object_fields(fields).properties.get(results) or {}).get("items", {}) if results else {}
    return {"request": request, "item": dict(item), "result": dict(result)}


def read_expr(
    pointer: str, default: str = "None", var: str = "body", slots: Mapping[str, str] | None = None
) -> str:
    """The Python expression that reads the value at `pointer` of the JSON object `var`.

    A top-level member is read with `dict.get` as before pointers existed, so a spec that names
    plain fields pays nothing for them; a deeper one with the generated `at()`. `default` is the
    expression's value when a step is missing. A path parameter's location (`$request.path.id`)
    reads the request's `path` values by the route's `slots` (the route matched: it is there).
    """
    parameter = path_parameter(pointer)
    if parameter is not None:
        return f"path[{(slots or {})[parameter]!r}]"
    parts = pointer_parts(pointer)
    if not parts:
        return var  # the empty pointer: the whole item (identify's attributes are its members)
    if len(parts) == 1:
        return f"{var}.get({parts[0]!r})" if default == "None" else f"{var}.get({parts[0]!r}, {default})"
    return f"at({var}, {parts!r}, {default})"


@dataclass(frozen=True)
class IdentityRead:
    """How the generated code tells whether one identity field is present, and reads it then."""

    kind: str
    lowercase: bool
    present: str  # a condition; with a walrus, it binds `value`
    value: str


def identity_read(
    field: IdentityField, schema: Mapping[str, Any], slots: Mapping[str, str] | None = None
) -> IdentityRead:
    """The presence test of an identity field: null is absent when the field's schema admits null;
    one read from a path parameter is always present (no test: `present` is empty)."""
    lowercase = field.normalize == "lowercase"
    if path_parameter(field.pointer) is not None:
        return IdentityRead(field.kind, lowercase, "", read_expr(field.pointer, slots=slots))
    nullable = admits_null(schemas_at(schema, field.pointer))
    parts = pointer_parts(field.pointer)
    if len(parts) == 1 and not nullable:
        return IdentityRead(field.kind, lowercase, f"{parts[0]!r} in body", f"body[{parts[0]!r}]")
    default = "None" if nullable else "MISSING"
    return IdentityRead(
        field.kind, lowercase, f"(value := {read_expr(field.pointer, default)}) is not {default}", "value"
    )


@dataclass(frozen=True)
class KindReader:
    """The generated reader of one kind of item: its functions' suffix and what they read."""

    value: str | None
    suffix: str  # "" for an operation's only kind; `_track` for the kind `track`
    kind: ItemKind
    identity: tuple[IdentityRead, ...]
    event: str | None  # the expression reading the event field (None: the constant name)
    payload: str  # the expression reading the payload
    text_fields: str  # a tuple expression of (pointer, value) of the fields stored as text


def kind_readers(op: Operation) -> list[KindReader]:
    """A reader per kind of item the operation takes (one when it declares no kinds)."""
    assert op.ingest is not None
    rules = op.ingest.items
    slots = route("", op)[1]
    readers = []
    suffixes: set[str] = set()
    for kind in rules.kinds:
        schema = op.kind_schema(kind)
        suffix = ""
        if kind.value is not None:
            suffix = f"_{identifier(kind.value)}"
            while suffix in suffixes:
                suffix += "_"  # two values that read the same as identifiers
            suffixes.add(suffix)
        text = [kind.event] if kind.event else []
        text += [f.pointer for f in kind.identity.fields]
        text += [rules.dedupe_key] if rules.dedupe_key else []
        pairs = "".join(f"({_where(p)!r}, {read_expr(p, slots=slots)}), " for p in dict.fromkeys(text))
        readers.append(
            KindReader(
                value=kind.value,
                suffix=suffix,
                kind=kind,
                identity=tuple(identity_read(f, schema, slots) for f in kind.identity.fields),
                event=read_expr(kind.event, slots=slots) if kind.event else None,
                payload=read_expr(kind.payload.pointer, "{}"),
                text_fields=f"({pairs})",
            )
        )
    return readers


def _where(location: str) -> str:
    """How an error's details name a field: its JSON Pointer, or `path.id` for a path parameter (as
    the parameter checks name it)."""
    parameter = path_parameter(location)
    return location if parameter is None else f"path.{parameter}"


def item_reads(op: Operation) -> dict[str, Any]:
    """What judge() calls to read an item: the only kind's functions directly, or the kind's reader's.

    With kinds, the item's discriminator picks a reader at request time; without, every call is
    chosen here, so an operation of one kind pays nothing for kinds.
    """
    assert op.ingest is not None
    rules = op.ingest.items
    readers = kind_readers(op)
    own = readers[0]
    # The request's path values, passed to the readers only when a field is read from one.
    path = ", path" if rules.from_path() else ""
    calls = (
        {
            "identity": f"reader.identity(body{path})",
            "event": f"reader.event(body{path})",
            "payload": "reader.payload(body)",
            "check_payload": "reader.check_payload",
            "text_fields": f"reader.text_fields(body{path})",
        }
        if rules.discriminator
        else {
            "identity": f"choose_identity(body{path})",
            "event": f"event_of(body{path})",
            "payload": own.payload,
            "check_payload": "check_payload",
            "text_fields": own.text_fields,
        }
    )
    return {
        "readers": readers,
        "calls": calls,
        "path": bool(path),
        # The readers' extra parameter, and its type in a kind's Reader (Callable[[...], ...]).
        "path_parameter": ", path: dict[str, Any]" if path else "",
        "path_type": ", dict[str, Any]" if path else "",
        "discriminator": (
            {"pointer": rules.discriminator, "read": read_expr(rules.discriminator)}
            if rules.discriminator
            else None
        ),
        "occurred_at": {"pointer": rules.occurred_at, "read": read_expr(rules.occurred_at)},
        "dedupe_key": read_expr(rules.dedupe_key) if rules.dedupe_key else None,
        "credential": (
            {
                "pointer": rules.credential,
                "read": read_expr(rules.credential),
                "parts": pointer_parts(rules.credential),
            }
            if rules.credential
            else None
        ),
        # The empty pointer: the body is itself the array of items (Mixpanel's /import).
        "batch_items": (
            {"pointer": rules.items, "read": read_expr(rules.items), "bare": not rules.items}
            if rules.items is not None
            else None
        ),
        "project": (
            {
                "pointer": rules.project,
                "read": read_expr(rules.project),
                "item_read": read_expr(rules.project, var="item"),
            }
            if rules.project
            else None
        ),
        # Whether any field is read below the top level (the generated `at()` is then imported),
        # and whether a presence test tells a missing field from a null one (`MISSING`).
        "nested": any(len(pointer_parts(pointer)) > 1 for pointer in _read_pointers(rules)),
        "missing": any("MISSING" in i.present for r in readers for i in r.identity),
    }


def checks(op: Operation) -> str:
    """The endpoint module's docstring: the checks in the order the generated code makes them."""
    ingest = op.ingest
    assert ingest is not None
    body_key = bool(ingest.credential_field or ingest.project_field)
    rate = ["rate limit"] if ingest.rate_limit else []
    steps = [] if body_key else ["API key", *rate]
    steps += ["Content-Type", "body size", "JSON syntax"]
    if body_key:
        named = f"the project token (`{ingest.project_field}` of every item)" if ingest.project_field else ""
        steps += [named or "API key (in the body)", *rate]
    steps += ["parameters"] if parameters(op, route("", op)[1]) else []
    item = ["identity", "the item's schema" if ingest.batch else "request envelope"]
    if ingest.kinds:
        item.insert(0, f"the item's kind (its {ingest.kinds.discriminator})")
    item += ["reserved names"] if ingest.reserved else []
    item += ["event definition and payload schema"]
    if ingest.batch:
        steps += ["the request's schema and its number of items"]
        text = f"Checks run in the order the spec documents: {', '.join(steps)}; then, for each item of "
        text += f"`{ingest.batch.items_field}`" if ingest.batch.items_field else "the body (an array)"
        text += f" on its own: {', '.join(item)}. "
        if ingest.batch.acceptance == "all_or_nothing":
            text += "One refused item refuses the whole request and nothing is stored; otherwise the items "
        else:
            text += "A refused item gets its error body in its result; the others "
        text += "are stored together (concurrent inserts make one group commit)"
        text += ", each deduplicated on its own" if ingest.dedupe else ""
        text += ", and the answer is sent after the commit."
    else:
        text = f"Checks run in the order the spec documents: {', '.join([*steps, *item])}. "
        text += (
            "The answer is built and checked against the documented response before the event is committed "
        )
        text += "to storage" + (" (or its idempotent original found)" if ingest.dedupe else "")
        text += ", and sent only after the commit."
    return textwrap.fill(text, 100)


def _read_pointers(rules: ItemRules) -> list[str]:
    """Every pointer the generated code reads: the item's fields, the credential, the batch's items."""
    found = [pointer for _, pointer, _ in rules.locations()]
    return found + [p for p in (rules.credential, rules.items) if p]
