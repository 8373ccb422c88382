"""Which request fields an event-ingest operation uses, guessed from its schema's names and types.

Every guess reads the model's request schema (resolved, OpenAPI 3.0 already upgraded) through
`object_fields`, so properties declared in `allOf` parts or `anyOf`/`oneOf` branches count, and a
nested field is named by its JSON Pointer (`/properties/distinct_id`, JSON:API's
`/data/attributes/time`), which x-ingest reads as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..spec.model import (
    PATH_EXPRESSION,
    Operation,
    Parameter,
    object_fields,
    pointer_of,
    pointer_parts,
    schema_types,
)
from .proposal import Block, Guess, todo

# Names, normalised (lower case, letters and digits only), in the order they are preferred.
EVENT_NAMES = ("event", "eventtype", "eventname", "eventkey", "action")
IDENTITY_KINDS = {  # a name and the label answered for it (None: the field's own name)
    "userid": "user",
    "anonymousid": "anonymous",
    "deviceid": "device",
    "distinctid": None,
    "customerid": None,
    "externalid": None,
    "profileid": None,
    "personid": None,
    "contactid": None,
    "visitorid": None,
    "identity": None,
    "email": None,
}
TIME_NAMES = ("timestamp", "time", "occurredat", "eventtime", "createdat", "sentat", "datetime", "ts", "date")
DEDUPE_NAMES = (
    "insertid",
    "messageid",
    "idempotencykey",
    "idempotencyid",
    "dedupeid",
    "dedupid",
    "dedupekey",
    "uniqueid",
    "eventid",
)
PAYLOAD_NAMES = (
    "properties",
    "eventproperties",
    "datafields",
    "traits",
    "data",
    "attributes",
    "payload",
    "metadata",
    "eventdata",
    "customproperties",
)
CREDENTIAL_NAMES = ("apikey", "writekey", "appid", "apitoken", "projecttoken", "token", "secret")
# A public project token in each event of a keyless collector (Mixpanel's `properties.token`).
TOKEN_NAMES = ("token", "projecttoken")
BATCH_NAMES = ("events", "batch", "data", "records", "items")
# Calls named by their path rather than by a field (Segment's identify, page...).
CALLS = ("identify", "page", "screen", "group", "alias", "engage")
# Calls (or methods) that update a contact's profile rather than record something that happened.
PROFILE_CALLS = ("identify", "engage")
UPDATES = ("PUT", "PATCH")
# Path segments naming a collection of contacts: `/customers/{identifier}` names one by its id.
CONTACTS = ("customers", "users", "people", "persons", "profiles", "contacts", "visitors", "devices")
# Path segments naming a collection of events: `/events/{collection}` names the event by its value.
EVENT_SEGMENTS = ("events", "event", "collections")
_SCALARS = {"string", "integer", "number"}
# An apiKey value a description shows with a scheme word first: `Klaviyo-API-Key your-private-api-key`.
_PREFIX = re.compile(r"\b([A-Za-z][\w.-]*) (?:<[^>]*>|\{[^}]*\}|your[\w-]*|KEY|API_KEY|\[[^\]]*\])")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(KiB|KB|kB|MiB|MB|bytes)\b")
_UNITS = {"kib": 1024, "kb": 1024, "mib": 1024 * 1024, "mb": 1024 * 1024, "bytes": 1}
DEFAULT_LIMIT = 1024 * 1024
DEFAULT_MAX_ITEMS = 100


def normal(name: str) -> str:
    """A name as the tables above list it: `$insert_id`, `insertId` and `insert-id` are `insertid`."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class Field:
    """A member of the request (or item) schema, by its JSON Pointer, in declaration order."""

    pointer: str
    schema: Mapping[str, Any]
    required: bool

    @property
    def parts(self) -> tuple[str, ...]:
        return pointer_parts(self.pointer)

    @property
    def name(self) -> str:
        return self.parts[-1]

    @property
    def written(self) -> str:
        """How x-ingest names it: a top-level member by its name, a nested one by its pointer."""
        return self.name if len(self.parts) == 1 else self.pointer

    @property
    def types(self) -> set[str]:
        return schema_types(self.schema) - {"null"}

    @property
    def is_object(self) -> bool:
        return "object" in self.types or (not self.types and "properties" in self.schema)

    @property
    def scalar(self) -> bool:
        """A string, integer or number (or untyped): what an identity or an event name may be."""
        return not self.types or bool(self.types & _SCALARS) and not self.types - _SCALARS

    def text(self) -> str:
        return " ".join(str(self.schema.get(k, "")) for k in ("description", "title", "format"))


def members(schema: Mapping[str, Any], depth: int = 6) -> list[Field]:
    """Every member of an object schema and of the objects inside it, shallow ones first."""
    found: list[Field] = []

    def walk(node: Mapping[str, Any], prefix: str, required: bool, level: int) -> None:
        try:
            described = object_fields(node)
        except TypeError:
            return  # a malformed schema (OpenAPI's own rules, which lint reports, say where)
        inner = []
        for name, sub in described.properties.items():
            if not isinstance(sub, Mapping):
                continue
            field = Field(prefix + pointer_of(name), sub, required and name in described.required)
            found.append(field)
            inner.append(field)
        for field in inner:
            if level < depth and field.is_object:
                walk(field.schema, field.pointer, field.required, level + 1)

    walk(schema, "", True, 1)
    return sorted(found, key=lambda f: len(f.parts))


def best(fields: Iterable[Field], names: tuple[str, ...], accept: Any = None) -> Field | None:
    """The field whose name comes first in `names`, the shallowest when several share it."""
    ranked = [
        (names.index(normal(f.name)), len(f.parts), i, f)
        for i, f in enumerate(fields)
        if normal(f.name) in names and (accept is None or accept(f))
    ]
    return min(ranked, key=lambda r: r[:3])[3] if ranked else None


def _quoted(name: str) -> str:
    return f"`{name}`"


def event(fields: list[Field], op: Operation) -> Block:
    """`event_field` (a body field, else a path parameter), or the constant `event_name` of a call
    named by its path or of a profile update."""
    found = best(fields, EVENT_NAMES, lambda f: f.scalar)
    if found and not found.required:
        why = f"named like an event name, but the schema does not require `{found.written}` (lint asks it)"
        return {"event_field": todo(why, found.written)}
    if found:
        return {"event_field": Guess(found.written, "required, named like an event name")}
    parameter = path_event(op)
    if parameter is not None:
        why = f"no event field; the path parameter {parameter.name!r} names the event ({op.path})"
        return {"event_field": Guess(PATH_EXPRESSION + parameter.name, why)}
    tail = op.path.rstrip("/").rsplit("/", 1)[-1].lower()
    if tail in CALLS:
        return {"event_name": Guess(tail, f"no event field; the path names the call ({op.path})")}
    update = profile_update(op)
    if update is not None:
        why = f"a profile update ({op.method} {op.path}), served as events of one name"
        return {"event_name": Guess(update, why)}
    names = [f for f in fields if normal(f.name) == "name" and f.scalar]
    # A `name` inside a metric or event object (JSON:API's metric.data.attributes.name) first.
    names.sort(key=lambda f: (not any(normal(p) in ("metric", "event") for p in f.parts), len(f.parts)))
    if names:
        return {"event_field": Guess(names[0].written, "a `name` field, the only one naming the event")}
    return {"event_field": todo("no field is named like the event (event, event_type, name): name it")}


def _path_parameters(op: Operation) -> list[tuple[Parameter, str]]:
    """The operation's path parameters, each with the path segment just before it (lower case)."""
    segments = [s for s in op.path.split("/") if s]
    found = []
    for parameter in (p for p in op.parameters if p.location == "path"):
        at = segments.index(f"{{{parameter.name}}}") if f"{{{parameter.name}}}" in segments else -1
        found.append((parameter, segments[at - 1].lower() if at > 0 else ""))
    return found


def path_event(op: Operation) -> Parameter | None:
    """A path parameter naming the event: named like one, or after `/events/` (`/events/{collection}`)."""
    return next(
        (
            p
            for p, before in _path_parameters(op)
            if normal(p.name) in EVENT_NAMES or before in EVENT_SEGMENTS
        ),
        None,
    )


def path_identity(op: Operation) -> tuple[Parameter, str | None] | None:
    """A path parameter naming the contact, and its kind: named like a contact id, or after a
    collection of contacts (`/customers/{identifier}`: kind `customer`)."""
    for parameter, before in _path_parameters(op):
        if normal(parameter.name) in IDENTITY_KINDS:
            return parameter, IDENTITY_KINDS[normal(parameter.name)]
        if before in CONTACTS:
            return parameter, {"people": "person"}.get(before, before.removesuffix("s"))
    return None


def profile_update(op: Operation) -> str | None:
    """The event name a profile update is served as (a PUT or PATCH of a contact, a POST to an
    identify- or engage-like path); None for an operation that records events."""
    tail = op.path.rstrip("/").rsplit("/", 1)[-1].lower()
    if tail in PROFILE_CALLS:
        return tail
    return "identify" if op.method in UPDATES else None


def identity(fields: list[Field], op: Operation, taken: set[str]) -> Block:
    """Identity candidates in the order the schema declares them, and how they combine; a contact
    named by the path alone (it is always present, so no body field after it would be read)."""
    from_path = path_identity(op)
    if from_path is not None:
        parameter, kind = from_path
        entry: dict[str, Any] = {"name": PATH_EXPRESSION + parameter.name}
        entry |= {"kind": kind} if kind else {}
        why = f"the path parameter {parameter.name!r} names the contact ({op.path})"
        return {"mode": Guess("first_present"), "fields": Guess([entry], why)}
    ranked = [
        f
        for f in sorted(fields, key=lambda f: len(f.parts) > 1)  # top-level ones first, else in order
        if normal(f.name) in IDENTITY_KINDS and f.scalar and f.pointer not in taken
    ]
    if not ranked:
        return {
            "mode": Guess("first_present"),
            "fields": todo(
                "no field is named like a contact (user_id, anonymous_id, email...)", [{"name": "TODO"}]
            ),
        }
    candidates = []
    for f in ranked:
        entry = {"name": f.written}
        kind = IDENTITY_KINDS[normal(f.name)]
        if kind:
            entry["kind"] = kind
        if normal(f.name) == "email":
            entry["normalize"] = "lowercase"
        candidates.append(entry)
    said = [op.description, *(r.description for r in op.responses.values()), *(f.text() for f in ranked)]
    exclusive = re.search(
        r"\b(?:not|never) both\b|exactly one|only one of|mutually exclusive", " ".join(said).lower()
    )
    names = ", ".join(_quoted(f.written) for f in ranked)
    return {
        "mode": Guess(
            "exactly_one" if exclusive else "first_present",
            f"the description says {exclusive.group(0)!r}"
            if exclusive
            else "the first one sent names the contact, in the listed order",
        ),
        "fields": Guess(candidates, f"named like contact ids, in the schema's order: {names}"),
    }


def occurred_at(fields: list[Field], examples: Iterable[Any]) -> Block:
    """`occurred_at_field` and its unit, from its type, format, description or an example."""
    found = best(fields, TIME_NAMES, lambda f: bool(f.types & {"string", "integer", "number"}) or not f.types)
    if found is None:
        return {"occurred_at_field": todo("no field is named like the event's time (timestamp, time...)")}
    block: Block = {"occurred_at_field": Guess(found.written, "named like the event's time")}
    text = found.text().lower()
    if "string" in found.types or not found.types:
        said = "format: date-time" if found.schema.get("format") == "date-time" else "a string"
        block["occurred_at_field"] = Guess(found.written, f"named like the event's time, {said} (RFC 3339)")
        return block
    values = [*(_value_at(e, found.pointer) for e in examples), *(found.schema.get("examples") or ())]
    value = next((v for v in values if isinstance(v, int | float) and not isinstance(v, bool)), None)
    if re.search(r"milli|\bms\b", text):
        unit, why = "milliseconds", "its description says milliseconds"
    elif re.search(r"\bseconds?\b|unix|epoch", text):
        unit, why = "seconds", "its description says seconds"
    elif value is not None:
        unit = "milliseconds" if value > 1e11 else "seconds"
        why = f"its example {value} is {'past' if value > 1e11 else 'before'} 1e11"
    else:
        unit, why = "seconds", "a number with no unit said: a guess, check it"
    block["occurred_at_unit"] = Guess(unit, f"{' or '.join(sorted(found.types))} since the epoch: {why}")
    return block


def _value_at(example: Any, pointer: str) -> Any:
    node = example
    for part in pointer_parts(pointer):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def payload(fields: list[Field], whole: bool = False) -> Block:
    """The object holding the event's properties; checked only against events the config defines.
    `whole`: with no such object, the item itself (a profile update's attributes are its members)."""
    found = best(fields, PAYLOAD_NAMES, lambda f: f.is_object or not f.types)
    validation = Guess("when_defined", "events are accepted as sent until config.yaml defines them")
    if found is None and whole:
        why = "a profile update whose attributes are the body's own members: the whole item"
        return {"field": Guess("", why), "validation": validation}
    if found is None:
        return {
            "field": todo("no object field is named like the properties (properties, data...)"),
            "validation": validation,
        }
    return {
        "field": Guess(found.written, "an object named like the event's properties"),
        "validation": validation,
    }


def dedupe_key(fields: list[Field], op: Operation, taken: set[str]) -> Guess | None:
    """Where the idempotency key travels: an `Idempotency-Key`-like header, else a body field."""
    header = next(
        (p for p in op.parameters if p.location == "header" and "idempotency" in p.name.lower()), None
    )
    if header:
        return Guess({"in": "header", "name": header.name}, f"the header parameter {header.name}")
    found = best(fields, DEDUPE_NAMES, lambda f: f.scalar and f.pointer not in taken)
    if found:
        return Guess({"in": "body", "name": found.written}, "named like a deduplication key")
    found = next((f for f in fields if f.name == "id" and len(f.parts) == 1 and "string" in f.types), None)
    if found:
        return Guess({"in": "body", "name": "id"}, "the event's own `id`: a client-made id deduplicates")
    return None


def credential(request: list[Field], op: Operation, item: Sequence[Field] = ()) -> tuple[Block, str]:
    """`credential_field` when the key travels in the body; `project_field` for a keyless collector
    (no security at all) whose events carry a public token (in `item`, the event's members); else
    nothing, and a note on the scheme."""
    if op.security and all(op.security):
        notes = []
        for scheme in op.schemes:
            said = {"bearer": "Authorization: Bearer KEY", "basic": "HTTP basic"}.get(scheme.kind, "")
            if scheme.kind in ("header", "query"):
                said = f"the {scheme.kind} {scheme.parameter}" + (
                    f" with the prefix {scheme.prefix}" if scheme.prefix else ""
                )
            if scheme.token_of:
                said = f"{scheme.token_of} served as a bearer token checked against the configured keys"
            notes.append(f"{scheme.name} ({said or scheme.kind})")
            word = (
                _PREFIX.search(scheme.description) if scheme.kind == "header" and not scheme.prefix else None
            )
            if word:
                notes.append(
                    f"TODO: its description shows the value as {word.group(0)!r}: add "
                    f"`x-ingest-prefix: {word.group(1)}` to components.securitySchemes.{scheme.name}"
                )
        return {}, "the key: by the security scheme " + "; ".join(notes)
    keyless = not any(op.security)
    key = best([f for f in request if len(f.parts) == 1], CREDENTIAL_NAMES, lambda f: f.scalar)
    token = best(item, TOKEN_NAMES, lambda f: f.scalar) if keyless else None
    if token is not None and (key is None or normal(key.name) in TOKEN_NAMES):
        why = "no security (`security: []` or none); each event names its project by this public token"
        return {
            "project_field": Guess(token.written, why)
        }, "keyless: config.yaml maps each token to a project"
    found = key
    if found:
        return {
            "credential_field": Guess(found.written, "no security scheme; a body field named like a key")
        }, ""
    reason = "no security scheme and no body field named like a key (api_key, token): name the key's field"
    return {"credential_field": todo(reason)}, ""


def batch_array(request: Mapping[str, Any]) -> tuple[Field | None, bool]:
    """The array of events in a batch request (None: one event), and whether the body is a bare array."""
    if "array" in schema_types(request):
        return None, True
    arrays = [
        f
        for f in members(request, depth=1)
        if "array" in f.types and isinstance(f.schema.get("items"), Mapping) and _objects(f.schema["items"])
    ]
    found = best(arrays, BATCH_NAMES) or (arrays[0] if arrays else None)
    return found, False


def _objects(items: Mapping[str, Any]) -> bool:
    return bool(object_fields(items).properties) or "object" in schema_types(items)


def batch(found: Field) -> Block:
    limit = found.schema.get("maxItems")
    return {
        "items_field": Guess(found.written, "an array of objects in the request: each item an event"),
        "max_items": Guess(limit, "the array's maxItems")
        if isinstance(limit, int)
        else Guess(DEFAULT_MAX_ITEMS, "the file sets no maxItems: a guess, set your own"),
    }


def size_limit(texts: Iterable[str]) -> Guess:
    """The body cap a description states (`32 KB`, `1MB`), else 1 MiB."""
    for text in texts:
        match = _SIZE.search(text or "")
        if match:
            size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
            if size >= 256:
                return Guess(size, f"the file says {match.group(0)!r}")
    return Guess(DEFAULT_LIMIT, "the file states no size limit: 1 MiB, a guess")
