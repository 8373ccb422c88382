"""The deterministic constraint phase: each constraint of a request schema broken once, on purpose, and
each bound tried just inside.

Random negative generation may or may not break a given constraint in a run; this phase breaks every
one of them, every run. From one valid body of the deployment (`Bodies.valid`), each constraint of the
operation's request schema (and of each header or query parameter) gives one request that breaks that
constraint alone: each required field missing, each type wrong, each `format`, `pattern`, `enum` and
`const` broken, each length, bound and item count just outside, an undeclared field where they are
refused. Each must get the catalogue's `invalid_request`. Each bound also gives a request just inside,
which must be accepted like any valid event. A candidate is kept only when jsonschema-rs (formats
asserted: the generated server's validator) agrees that it breaks, or keeps, the whole schema, so the
phase follows any spec and never calls valid what the schema refuses.

Left to the documented scenarios: the key (`missing_api_key`, `invalid_api_key`), the identity rule
(`missing_identity`, `identity_conflict`), the event definitions (`payload_schema_mismatch`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ingestspec.generator.spec.model import (
    Operation,
    item_get,
    object_fields,
    pointer_of,
    pointer_parts,
    schema_types,
)

from .bodies import KEY_SLOT, Bodies, representable_time
from .credentials import credentials
from .exchange import json_bytes
from .payloads import MARKER_PROPERTY, is_valid, minimal_value
from .session import Session, Skip
from .target import MARK, Target

# What breaks a `format`, by format; any other format gets `not-a-<format>`.
_NOT_FORMATTED = {
    "date-time": "not-a-date",
    "date": "not-a-date",
    "time": "not-a-time",
    "uuid": "not-a-uuid",
    "email": "not-an-email",
    "idn-email": "not-an-email",
    "uri": "not a uri",
    "uri-reference": "\\\\not a uri reference",
    "ipv4": "not-an-ipv4",
    "ipv6": "not-an-ipv6",
}
# One value of each JSON type, to put where a field's type must be broken (null last: a server may
# rightly read a null as "absent", which is another rule).
_OF_TYPE: dict[str, Any] = {
    "string": "contract-test",
    "integer": 12345,
    "number": 1.5,
    "boolean": True,
    "object": {MARKER_PROPERTY: 1},
    "array": [MARK],
    "null": None,
}
# Strings tried to break a `pattern`, in order.
_OFF_PATTERN = ("", " ", "!", "contract test !", "\u00e9", "0", "a", "A", "-", "_")
# The catalogue entry every broken constraint must get (one of `FIXED_ERRORS`).
INVALID = "invalid_request"
# The field added where undeclared fields are refused.
UNDECLARED = f"{MARKER_PROPERTY}_undeclared"


@dataclass(frozen=True)
class Constraint:
    """One request of the phase: a constraint broken (`inside` False) or a bound kept just inside."""

    where: str  # `/field/sub` for the body, `header Name` or `query name` for a parameter
    keyword: str  # the JSON Schema keyword: required, type, format, pattern, maxLength, ...
    detail: str  # what was sent, briefly
    inside: bool
    body: dict[str, Any]
    # Parameters to send instead of the usual ones: name -> value, None to leave it out.
    headers: Mapping[str, str | None] = field(default_factory=dict)
    query: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def label(self) -> str:
        kind = "inside" if self.inside else "broken"
        return f"{self.where} {self.keyword} {kind}"


def derive(bodies: Bodies, base: dict[str, Any]) -> Iterator[Constraint]:
    """Every constraint request for an operation, from `base`, a valid body of its first project's
    accepted event; broken constraints first, then the bounds just inside."""
    found = [*_body_constraints(bodies, base), *_parameter_constraints(bodies, base)]
    yield from (c for c in found if not c.inside)
    yield from (c for c in found if c.inside)


# -- the body -----------------------------------------------------------------------------------


def _body_constraints(bodies: Bodies, base: dict[str, Any]) -> Iterator[Constraint]:
    schema = bodies.schema
    left_out = {pointer_parts(bodies.rules.credential or "/")[0], KEY_SLOT}
    identity = {f.name for f in bodies.identity_fields}
    fields = object_fields(schema)
    properties = fields.properties
    for name in fields.required:
        if name in base and name not in left_out | identity:
            yield from _kept(
                bodies, Constraint(f"/{name}", "required", "left out", False, _without(base, name))
            )
    if schema.get("additionalProperties") is False or schema.get("unevaluatedProperties") is False:
        yield from _kept(
            bodies, Constraint("/", "additionalProperties", UNDECLARED, False, {**base, UNDECLARED: 1})
        )
    for name, sub in properties.items():
        if name in left_out or not isinstance(sub, Mapping):
            continue
        start = _with_field(bodies, base, name)
        if start is None:
            continue
        for keyword, detail, value, inside in _values(bodies, sub, start[name]):
            if inside and not _inside_allowed(bodies, name):
                continue
            body = {**start, name: value}
            yield from _kept(bodies, Constraint(f"/{name}", keyword, detail, inside, body))
        if isinstance(start[name], Mapping) and isinstance(sub.get("properties"), Mapping):
            yield from _nested(bodies, start, (name,), sub)


def _nested(
    bodies: Bodies, body: dict[str, Any], path: tuple[str, ...], schema: Mapping[str, Any]
) -> Iterator[Constraint]:
    """The constraints of an object field's own properties (those the valid body has)."""
    value = _at(body, path)
    where = "/" + "/".join(path)
    for name in schema.get("required") or ():
        if name in value:
            changed = _set(body, path, {k: v for k, v in value.items() if k != name})
            yield from _kept(bodies, Constraint(f"{where}/{name}", "required", "left out", False, changed))
    if schema.get("additionalProperties") is False:
        changed = _set(body, path, {**value, UNDECLARED: 1})
        yield from _kept(bodies, Constraint(where, "additionalProperties", UNDECLARED, False, changed))
    for name, sub in (schema.get("properties") or {}).items():
        if name not in value or not isinstance(sub, Mapping):
            continue
        for keyword, detail, wrong, inside in _values(bodies, sub, value[name]):
            if not inside:
                changed = _set(body, (*path, name), wrong)
                yield from _kept(bodies, Constraint(f"{where}/{name}", keyword, detail, False, changed))
        if isinstance(value[name], Mapping) and isinstance(sub.get("properties"), Mapping):
            yield from _nested(bodies, body, (*path, name), sub)


def _with_field(bodies: Bodies, base: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A valid body holding field `name`: `base`, or `base` given the field (an identity field in
    place of the one it has; the time now; another field's simplest value), or None when no valid
    body can hold it."""
    if name in base:
        return base
    fields = {f.name: f for f in bodies.identity_fields}
    if name in fields:
        value = bodies.identity_value(fields[name])
        if value is None:
            return None
        body = bodies.with_field(bodies.without_identity(base), name, value)
        return body if is_valid(bodies.schema, _sent(body)) else None
    if pointer_of(name) == bodies.rules.occurred_at:
        body = {**base, name: bodies.timestamp()}
    else:
        found, value = minimal_value(bodies.schema_of(name))
        if not found:
            return None
        body = {**base, name: value}
    return body if is_valid(bodies.schema, _sent(body)) else None


def _inside_allowed(bodies: Bodies, name: str) -> bool:
    """Whether a bound of field `name` can be tried inside: not the event name or payload (whose
    values the project's definitions decide), nor the idempotency key (a short one may replay)."""
    rules = bodies.rules
    return pointer_of(name) not in {bodies.kind.event, bodies.payload_at, rules.dedupe_key}


# -- one value's constraints --------------------------------------------------------------------


def _values(bodies: Bodies, schema: Mapping[str, Any], value: Any) -> Iterator[tuple[str, str, Any, bool]]:
    """(keyword, detail, value, inside) for each constraint of one value's schema: broken ones, and
    bounds kept just inside."""
    types = tuple(sorted(schema_types(schema)))
    if types:
        wrongs = [v for t, v in _OF_TYPE.items() if t not in types and not _is_type(v, types)]
        if wrongs:
            yield "type", f"{_short(wrongs[0])} (not {'/'.join(types)})", wrongs[0], False
    form = schema.get("format")
    if isinstance(form, str) and (not types or "string" in types):
        text = _NOT_FORMATTED.get(form, f"not-a-{form}")
        yield "format", f"{text!r} (not {form})", text, False
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        loose = {k: v for k, v in schema.items() if k != "pattern"}
        off = [s for s in _OFF_PATTERN if not is_valid({"pattern": pattern}, s)]
        chosen = next((s for s in off if is_valid(loose, s)), off[0] if off else None)
        if chosen is not None:
            yield "pattern", f"{chosen!r} (not {pattern})", chosen, False
    for keyword in ("enum", "const"):
        if keyword in schema:
            listed = schema[keyword] if keyword == "enum" else [schema[keyword]]
            other = next(v for v in (f"{MARK}-not-listed", 12345, None) if v not in listed)
            yield keyword, f"{_short(other)} (not listed)", other, False
    yield from _lengths(bodies, schema, value)
    yield from _bounds(schema, types)
    yield from _items(schema, value)


def _lengths(bodies: Bodies, schema: Mapping[str, Any], value: Any) -> Iterator[tuple[str, str, Any, bool]]:
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and low > 0:
        yield "minLength", f"{low - 1} characters", _text(bodies, low - 1), False
        yield "minLength", f"{low} characters", _text(bodies, low), True
    if isinstance(high, int):
        yield "maxLength", f"{high + 1} characters", _text(bodies, high + 1), False
        inside = _email(bodies, high) if schema.get("format") == "email" else _text(bodies, high)
        yield "maxLength", f"{high} characters", inside, True


def _bounds(schema: Mapping[str, Any], types: tuple[str, ...]) -> Iterator[tuple[str, str, Any, bool]]:
    if not {"integer", "number"} & set(types):
        return
    step: float = 1 if "number" not in types else 0.5
    for keyword, sign in (("minimum", -1), ("maximum", 1)):
        bound = schema.get(keyword)
        if isinstance(bound, int | float) and not isinstance(bound, bool):
            yield keyword, f"{bound + sign * step}", bound + sign * step, False
            yield keyword, f"{bound}", bound, True
    for keyword, sign in (("exclusiveMinimum", -1), ("exclusiveMaximum", 1)):
        bound = schema.get(keyword)
        if isinstance(bound, int | float) and not isinstance(bound, bool):
            yield keyword, f"{bound}", bound, False
            yield keyword, f"{bound - sign * step}", bound - sign * step, True


def _items(schema: Mapping[str, Any], value: Any) -> Iterator[tuple[str, str, Any, bool]]:
    if not isinstance(value, list):
        return
    low, high = schema.get("minItems"), schema.get("maxItems")
    if isinstance(low, int) and low > 0 and len(value) >= low:
        yield "minItems", f"{low - 1} items", value[: low - 1], False
    if isinstance(high, int) and value and high < 1000:
        yield "maxItems", f"{high + 1} items", [*value, *[value[-1]] * (high + 1 - len(value))], False


def _email(bodies: Bodies, length: int) -> str:
    """A fresh marked email address of exactly `length` characters (local part up to 64, domain
    labels up to 63), or a plain text when none is that short."""
    local = bodies.target.marker()
    room = length - len(local) - 1 - len(".example.com")
    if room < 1:
        return _text(bodies, length)
    labels = []
    while room > 63:
        labels.append("a" * 62)
        room -= 63  # the label and the dot after it
    labels.append("a" * room)
    return f"{local}@{'.'.join(labels)}.example.com"


def _text(bodies: Bodies, length: int) -> str:
    """A fresh marked text of exactly `length` characters (the marker cut short when it is longer)."""
    marker = bodies.target.marker()
    return (marker + "-" + "x" * length)[:length] if length > len(marker) else marker[:length]


# -- parameters ---------------------------------------------------------------------------------


def _parameter_constraints(bodies: Bodies, base: dict[str, Any]) -> Iterator[Constraint]:
    """The constraints of header and query parameters (not those carrying the API key, which the key
    scenarios judge, nor path parameters, which route the request)."""
    op = bodies.op
    secret = {(s.kind, (s.parameter or "").lower()) for s in op.schemes}
    for parameter in op.parameters:
        if (
            parameter.location not in ("header", "query")
            or (parameter.location, parameter.name.lower()) in secret
        ):
            continue
        slot = "headers" if parameter.location == "header" else "query"
        where = f"{parameter.location} {parameter.name}"
        fresh = {**base}
        if parameter.required:
            yield Constraint(where, "required", "left out", False, fresh, **{slot: {parameter.name: None}})
        types = tuple(sorted(schema_types(parameter.schema)))
        for keyword, detail, value, inside in _values(bodies, parameter.schema, None):
            if inside or keyword in {"minItems", "maxItems"}:
                continue
            if keyword == "type":
                if "string" in types or not types:
                    continue
                value = "not-a-" + types[0]
            if not isinstance(value, str) or (
                ("string" in types or not types) and is_valid(parameter.schema, value)
            ):
                continue
            yield Constraint(where, keyword, detail, False, fresh, **{slot: {parameter.name: value}})


def with_parameters(url: str, headers: dict[str, str], constraint: Constraint) -> tuple[str, dict[str, str]]:
    """A probe's URL and headers with the constraint's parameters set or left out."""
    lowered = {name.lower(): name for name in headers}
    for name, value in constraint.headers.items():
        headers.pop(lowered.get(name.lower(), name), None)
        if value is not None:
            headers[name] = value
    if constraint.query:
        parts = urlsplit(url)
        pairs = [
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in constraint.query
        ]
        pairs += [(k, v) for k, v in constraint.query.items() if v is not None]
        url = urlunsplit(parts._replace(query=urlencode(pairs)))
    return url, headers


# -- keeping only what the schema agrees with -----------------------------------------------------


def _kept(bodies: Bodies, constraint: Constraint) -> Iterator[Constraint]:
    """The constraint, when the whole request schema refuses its body (a broken constraint) or accepts
    it (a bound inside), and an inside body is sendable: marked, within the limit, a representable time."""
    # Judged as sent: with the key, or a keyless collector's token, where it goes (a constraint of
    # the token's own field is the unknown-token scenarios' business).
    sent = _keyed(bodies, _sent(constraint.body))
    valid = is_valid(bodies.schema, sent)
    if valid != constraint.inside:
        return
    read = bodies.rules.read(sent)
    if read is None or read.identity is None:
        return  # no contact named: the identity rule answers first (missing_identity's business)
    if len(json_bytes(sent)) > bodies.limit(bodies.target.project):
        return
    if constraint.inside:
        ingest = bodies.ingest
        moment = item_get(sent, bodies.rules.occurred_at)
        if moment is not None and not representable_time(moment, ingest.occurred_at_unit):
            return
        if not bodies.is_marked(sent):
            return
    yield constraint


def _keyed(bodies: Bodies, body: dict[str, Any]) -> dict[str, Any]:
    keys = bodies.target.keys_for(bodies.op)
    keyed: dict[str, Any] = credentials(bodies.op, keys[0] if keys else None).into(body)
    return keyed


def _sent(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != KEY_SLOT}


def _without(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


def _at(body: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = body
    for name in path:
        value = value[name]
    return value


def _set(body: Mapping[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(dict(body))
    holder: Any = result
    for name in path[:-1]:
        holder = holder[name]
    holder[path[-1]] = value
    return result


def _is_type(value: Any, types: tuple[str, ...]) -> bool:
    return is_valid({"type": list(types)}, value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# -- sending --------------------------------------------------------------------------------------

# Records of this phase have a source starting with this.
SOURCE = "constraints"


def skip_reason(op: Operation) -> str | None:
    """Why the phase does not run for an operation."""
    if op.ingest is not None and op.ingest.batch is not None:
        return "a batch operation: its items are refused one by one inside a success answer"
    return None


def run(s: Session) -> list[Constraint]:
    """Send every constraint request of the session's operation (from its first project's accepted
    event) and judge each reply; the constraints sent."""
    event = s.bodies.accepted_event(s.target.project)
    if event is None:
        raise Skip(f"project {s.target.project.id} defines no event a valid payload can be built for")
    sent = []
    for constraint in derive(s.bodies, s.bodies.valid(event)):
        if constraint.inside and s.target.no_create:
            continue
        body = _fresh_key(s, constraint)
        expect = s.accepted(_sent(body)) if constraint.inside else s.error(INVALID)
        s.scenario = f"{SOURCE}:{constraint.label}: {constraint.detail}"
        item = s.probe(body, expect=expect)
        item.url, item.headers = with_parameters(item.url, item.headers, constraint)
        s.send(item)
        sent.append(constraint)
    return sent


def planned(target: Target, op: Operation) -> list[tuple[str, str]]:
    """(label, curl line) of each request the phase would send for `op`, sending nothing (--dry-run)."""
    s = Session(target, op, SOURCE)
    if skip_reason(op) or (event := s.bodies.accepted_event(target.project)) is None:
        return []
    lines = []
    for constraint in derive(s.bodies, s.bodies.valid(event)):
        item = s.probe(_fresh_key(s, constraint))
        item.url, item.headers = with_parameters(item.url, item.headers, constraint)
        lines.append((f"{constraint.label}: {constraint.detail}", item.curl()))
    return lines


def _fresh_key(s: Session, constraint: Constraint) -> dict[str, Any]:
    """The constraint's body with a fresh idempotency key (unless the key is what it is about), so no
    request of the phase is answered as a replay of another."""
    body = dict(constraint.body)
    if s.ingest.dedupe is None:
        return body
    key_at = s.bodies.rules.dedupe_key
    if key_at is None:
        return {**body, KEY_SLOT: s.bodies.fresh_key()} if KEY_SLOT in body else body
    if item_get(body, key_at) is not None and constraint.where != key_at:
        return s.bodies.with_dedupe_key(body, s.bodies.fresh_key())
    return body
