"""Request bodies built from an operation's `x-ingest` block and a project's event definitions.

Marking (so QA can find what the suite created): every value the suite invents that can carry text
starts with `contract-test-<run id>-`: the idempotency key, an external id, the local part of an
email (`contract-test-<run>-<random>@example.com`), an undefined event's name; payloads carry
`"contract_test": "<run id>"` when their definition allows one more property. A body that would
carry no mark at all (say an identity by contact UUID, a closed payload and no idempotency key)
is given the operation's email identity instead, when it has one.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingestspec.generator.config import EventDefinition, Project
from ingestspec.generator.spec.model import (
    IdentityField,
    Ingest,
    Operation,
    field_pointer,
    item_get,
    item_pop,
    leaves,
    member_schema,
    merged_schema,
    object_fields,
    pointer_of,
    pointer_set,
    schemas_at,
)

from .payloads import MARKER_PROPERTY, fresh_value, is_valid, minimal_payload, minimal_value, with_marker
from .target import MARK, Target

# Where a body built here keeps an idempotency key that travels in a header or the path: the probe
# takes it out and puts it there (a name no JSON body of the API can have, kept across copies).
KEY_SLOT = "\x00idempotency-key"
# Values drawn for fields that could not carry the marker, shared so none is drawn twice in a run.
_DRAWN: set[str] = set()


@dataclass(frozen=True)
class Event:
    """An event name and a payload that the project accepts for it."""

    name: str
    payload: dict[str, Any]
    definition: EventDefinition | None = None


class Bodies:
    """Builds valid and deliberately broken request bodies for one operation of the target.

    Every field x-ingest names is written, read and removed at its JSON Pointer, as the model's item
    rules (`Ingest.items`) locate it: `/properties/distinct_id` is inside `properties`."""

    def __init__(self, target: Target, op: Operation) -> None:
        assert op.ingest is not None
        self.target = target
        self.op = op
        self.ingest: Ingest = op.ingest
        self.schema: Mapping[str, Any] = event_schema(op)
        self.properties: Mapping[str, Any] = object_fields(self.schema).properties
        self.rules = self.ingest.items
        self.kind = self.rules.kinds[0]  # the kind `event_schema` describes

    # -- where the fields are -------------------------------------------------------------------

    @property
    def identity_fields(self) -> tuple[IdentityField, ...]:
        return self.kind.identity.fields

    @property
    def payload_at(self) -> str:
        return self.kind.payload.pointer

    def identity_pointers(self) -> tuple[str, ...]:
        return tuple(f.pointer for f in self.kind.identity.in_body)

    def without_identity(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of `body` naming no contact: every identity field removed where it is."""
        result = copy.deepcopy(dict(body))
        for pointer in self.identity_pointers():
            item_pop(result, pointer)
        return result

    def with_field(self, body: Mapping[str, Any], name: str, value: Any) -> dict[str, Any]:
        """A copy of `body` with the field x-ingest names `name` (a name or a pointer) set to `value`."""
        result = copy.deepcopy(dict(body))
        pointer_set(result, field_pointer(name), copy.deepcopy(value))
        return result

    def with_payload(self, body: Mapping[str, Any], payload: Any) -> dict[str, Any] | None:
        """A copy of `body` with another payload, keeping the item's other fields that live inside
        the payload (`/properties/distinct_id` in a payload `/properties`); None when `payload`
        cannot hold them (not an object)."""
        inside = [
            (pointer, value)
            for _, pointer, kind in self.rules.locations()
            if kind in (None, self.kind)
            and pointer.startswith(self.payload_at + "/")
            and (value := item_get(body, pointer)) is not None
        ]
        if inside and not isinstance(payload, dict):
            return None
        result = self.with_field(body, self.payload_at, payload)
        for pointer, value in inside:
            pointer_set(result, pointer, value)
        return result

    def with_dedupe_key(self, body: Mapping[str, Any], key: Any) -> dict[str, Any]:
        """A copy of `body` with the idempotency key `key` at its pointer (`KEY_SLOT` when it
        travels in a header or the path)."""
        if self.rules.dedupe_key:
            return self.with_field(body, self.rules.dedupe_key, key)
        return {**copy.deepcopy(dict(body)), KEY_SLOT: key}

    # -- values from the field's own schema -----------------------------------------------------

    def schema_of(self, name: str) -> Mapping[str, Any]:
        """The request schema of a field x-ingest names (a name or a JSON Pointer; empty: anything)."""
        return member_schema(self.schema, field_pointer(name))

    def fitting(self, schema: Mapping[str, Any], candidates: Iterable[Any]) -> Any:
        """The first candidate the schema accepts, else a fresh value drawn from the schema (its
        type, pattern, enum, format and lengths); None when the schema admits nothing."""
        for value in candidates:
            if is_valid(schema, value):
                return value
        return fresh_value(schema, _DRAWN)

    def key_schema(self) -> Mapping[str, Any]:
        """The schema of the idempotency key, wherever it travels."""
        assert self.ingest.dedupe is not None
        key = self.ingest.dedupe.key
        if self.rules.dedupe_key:
            return self.schema_of(self.rules.dedupe_key)
        for parameter in self.op.parameters:
            if parameter.location == key.location and parameter.name.lower() == key.name.lower():
                return parameter.schema
        return {}

    def fresh_key(self) -> Any:
        """A new idempotency key: marked when its schema allows, else drawn from it."""
        return self.fitting(self.key_schema(), [self.target.marker()])

    def timestamp(self, moment: datetime | None = None) -> Any:
        """The occurred-at value for `moment` (now) in the spec's unit, or the field's simplest value
        when its schema refuses that."""
        moment = moment or datetime.now(UTC)
        unit = self.ingest.occurred_at_unit
        value: Any
        if unit == "seconds":
            value = int(moment.timestamp())
        elif unit == "milliseconds":
            value = int(moment.timestamp() * 1000)
        else:
            value = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        schema = self.schema_of(self.rules.occurred_at)
        if is_valid(schema, value):
            return value
        return minimal_value(schema)[1]

    # -- events ---------------------------------------------------------------------------------

    def defined_events(self, project: Project) -> list[Event]:
        """Each event the project defines for which a valid payload can be built, marked when allowed."""
        events = []
        for name in sorted(project.events):
            if self.reserved_prefix(name) or not self.nameable(name):
                continue
            definition = project.events[name]
            schema = self.payload_schema(definition)
            payload = minimal_payload(schema)
            if payload is not None:
                events.append(Event(name, with_marker(schema, payload, self.target.run_id), definition))
        return events

    def payload_schema(self, definition: EventDefinition) -> Mapping[str, Any]:
        """What a payload of this event must satisfy: the definition and the request schema's own
        schema of the payload field alike."""
        field = self.schema_of(self.payload_at)
        return {"allOf": [definition.schema, field]} if field else definition.schema

    def nameable(self, name: str) -> bool:
        """Whether a request of this operation can name the event (a constant name allows only itself)."""
        return self.ingest.event_field is not None or name == self.ingest.event_name

    def undefined_event_name(self, project: Project) -> str:
        """An event name the project does not define and no reserved prefix covers."""
        schema = self.schema_of(self.kind.event or "")
        run = self.target.run_id
        for name in (f"{MARK}.undefined.{run}", f"{MARK}_undefined_{run}".replace("-", "_")):
            while name in project.events or self.reserved_prefix(name):
                name = "x" + name
            if is_valid(schema, name):
                return name
        for _ in range(20):
            drawn = fresh_value(schema, _DRAWN)
            if isinstance(drawn, str) and drawn not in project.events and not self.reserved_prefix(drawn):
                return drawn
        return f"{MARK}.undefined.{run}"

    def reserved_name(self, prefix: str) -> str | None:
        """An event name under `prefix` that the event field's schema accepts, if any."""
        schema = self.schema_of(self.kind.event or "")
        run = self.target.run_id
        for name in (f"{prefix}{MARK}.{run}", f"{prefix}{MARK}_{run}".replace("-", "_"), prefix):
            if is_valid(schema, name):
                return name
        return None

    def accepted_event(self, project: Project) -> Event | None:
        """An event the project accepts: a defined one, else (definitions optional) an undefined one."""
        defined = self.defined_events(project)
        if defined:
            return defined[0]
        if self.ingest.payload.validation == "required":
            return None
        if self.ingest.event_field is None:
            assert self.ingest.event_name is not None
            return Event(self.ingest.event_name, {MARKER_PROPERTY: self.target.run_id})
        return Event(self.undefined_event_name(project), {MARKER_PROPERTY: self.target.run_id})

    def reserved_prefix(self, name: str) -> str | None:
        """The reserved prefix `name` falls under. Matched regardless of case: valid data the suite
        sends must stay clear of a namespace however a server folds case."""
        reserved = self.ingest.reserved
        folded = name.casefold()
        return (
            next((p for p in reserved.prefixes if folded.startswith(p.casefold())), None)
            if reserved
            else None
        )

    # -- identity -------------------------------------------------------------------------------

    def _marks(self, field: IdentityField) -> list[str]:
        """Marked candidates for an identity field: an address first when it looks like an email."""
        marker = self.target.marker()
        email = f"{marker}@example.com"
        schema = self.schema_of(field.name)
        limit = schema.get("maxLength")
        plain = [marker, marker[:limit]] if isinstance(limit, int) else [marker]
        if schema.get("format") == "email" or field.kind == "email":
            return [email, *plain]
        return [*plain, email]

    def identity_value(self, field: IdentityField) -> Any:
        """A valid value for an identity field: marked when its schema allows, else drawn from it."""
        return self.fitting(self.schema_of(field.name), self._marks(field))

    def marked_field(self) -> IdentityField | None:
        """The identity field whose value can carry the mark (an email first), if any."""
        fields = self.kind.identity.in_body
        fits = [f for f in fields if any(is_valid(self.schema_of(f.name), v) for v in self._marks(f))]
        emails = [f for f in fits if self.schema_of(f.name).get("format") == "email" or f.kind == "email"]
        return emails[0] if emails else fits[0] if fits else None

    def one_identity(self) -> dict[str, Any]:
        """A single identity field with a valid (marked when possible) value; none when the path
        names the contact (the probe fills every path parameter)."""
        if self.kind.identity.always_named:
            return {}
        field = self.marked_field() or self.identity_fields[0]
        return {field.name: self.identity_value(field)}

    # -- whole bodies ---------------------------------------------------------------------------

    def valid(
        self,
        event: Event,
        *,
        identity: Mapping[str, Any] | None = None,
        dedupe_key: Any = None,
        occurred_at: Any = None,
    ) -> dict[str, Any]:
        """A body the server must accept: event, payload, one identity (by field name), a fresh
        idempotency key (in `KEY_SLOT` when it travels outside the body), every other required field
        from its schema; each field where its pointer says."""
        body: dict[str, Any] = {}
        if self.kind.event:
            pointer_set(body, self.kind.event, event.name)
        # The payload first: the other fields may live inside it (`/properties/distinct_id`).
        pointer_set(body, self.payload_at, copy.deepcopy(event.payload))
        for name, value in (identity if identity is not None else self.one_identity()).items():
            pointer_set(body, field_pointer(name), value)
        if occurred_at is not None:
            pointer_set(body, self.rules.occurred_at, occurred_at)
        if self.ingest.dedupe:
            body = self.with_dedupe_key(body, dedupe_key if dedupe_key is not None else self.fresh_key())
        self.fill_required(body)
        return body

    def fill_required(self, body: dict[str, Any]) -> None:
        """Give every required field the body lacks a valid value (its simplest; now for the time),
        through `allOf`, and for each `anyOf`/`oneOf` the fields of the first branch it can fill; the
        same inside each object member the body has, the payload included (its definition decides
        its content, but what the request schema requires of it must be there: a `token` beside the
        properties of an undefined event)."""
        self._fill(body, self.schema, "")

    def _fill(self, node: dict[str, Any], schema: Mapping[str, Any], at: str) -> None:
        fields = object_fields(schema)
        for name in fields.required:
            self._filled(node, name, at)
        for branches in fields.alternatives:
            if any(all(self._present(node, n, at) for n in branch) for branch in branches):
                continue
            for branch in branches:
                trial = dict(node)
                if all(self._filled(trial, name, at) for name in branch):
                    node.update(trial)
                    break
        for name, value in node.items():
            sub = fields.properties.get(name)
            inner = at + pointer_of(name)
            if isinstance(value, dict) and isinstance(sub, Mapping):
                self._fill(value, sub, inner)

    def _present(self, node: Mapping[str, Any], name: str, at: str) -> bool:
        # The credential field (or a keyless collector's token) is added when the request is sent.
        return name in node or at + pointer_of(name) in (self.rules.credential, self.rules.project)

    def _filled(self, node: dict[str, Any], name: str, at: str) -> bool:
        """Whether the object at `at` has member `name`, given its simplest valid value when it lacked it."""
        if self._present(node, name, at):
            return True
        pointer = at + pointer_of(name)
        if pointer == self.rules.occurred_at:
            node[name] = self.timestamp()
            return True
        found, value = minimal_value(self.schema_of(pointer))
        if found:
            node[name] = value
        return found

    def is_marked(self, body: Mapping[str, Any]) -> bool:
        """Whether a body carries the suite's mark somewhere QA can search."""
        payload = item_get(body, self.payload_at)
        if isinstance(payload, Mapping) and payload.get(MARKER_PROPERTY) == self.target.run_id:
            return True
        mark = f"{MARK}-{self.target.run_id}"
        if any(isinstance(value, str) and value.startswith(mark) for value in leaves(body).values()):
            return True
        return str(self.ingest.event_of(body) or "").startswith(MARK)

    def marked(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A valid body (one a fuzzer drew) carrying the run's mark: a fresh marked idempotency key,
        the marker in its payload, else a marked identity; unchanged if marking would break it."""
        result = copy.deepcopy(dict(body))
        key_at = self.rules.dedupe_key
        if key_at and schemas_at(self.schema, key_at):
            pointer_set(result, key_at, self.fresh_key())
        payload = item_get(result, self.payload_at)
        if isinstance(payload, dict):
            definition = self.target.project.events.get(str(self.ingest.event_of(result)))
            schema = self.payload_schema(definition) if definition else self.schema_of(self.payload_at)
            pointer_set(result, self.payload_at, with_marker(schema, payload, self.target.run_id))
        marked = self.marked_field()
        if not self.is_marked(result) and marked is not None:
            result = self.without_identity(result)
            pointer_set(result, marked.pointer, self.identity_value(marked))
        return result if is_valid(self.schema, result) else dict(body)

    def payload_fits(self, definition: EventDefinition | None, payload: Any) -> bool:
        return definition is None or is_valid(definition.schema, payload)

    def limit(self, project: Project) -> int:
        """The project's request-body cap: its own, else the spec's default."""
        return project.payload_limit_bytes or self.ingest.payload_limit.default_bytes


def event_schema(op: Operation) -> Mapping[str, Any]:
    """The schema of one event: the request's, or a batch item's; with kinds, the first kind's (the
    one the block's own rules describe best), its `allOf`/`oneOf` branches merged into one object."""
    assert op.ingest is not None
    if op.ingest.kinds is None:
        return op.item_schema
    return merged_schema(op.kind_schema(op.ingest.items.kinds[0]))


def representable_time(value: Any, unit: str) -> bool:
    """`representable` for an occurred-at value in the spec's unit: an epoch number of seconds or
    milliseconds must also fall within years 1 to 9999."""
    if unit == "rfc3339":
        return representable(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    seconds = value / 1000 if unit == "milliseconds" else value
    try:
        return 1 < datetime.fromtimestamp(seconds, UTC).year < 9999
    except (ValueError, OverflowError, OSError):
        return False


def representable(value: Any) -> bool:
    """Whether an RFC 3339 date-time stays within years 1 to 9999 in UTC (a leap second allowed).

    Positive cases keep to these, so that a server's calendar limits are not reported as the API
    refusing valid data (`0001-01-01T00:00:00+01:00` is valid RFC 3339 but year 0 in UTC)."""
    if not isinstance(value, str) or len(value) < 20:
        return False
    text = value.upper()
    if text[17:19] == "60":
        text = text[:17] + "59" + text[19:]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment.tzinfo is not None and 1 < moment.astimezone(UTC).year < 9999
    except (ValueError, OverflowError):
        return False
