"""Request bodies built from an operation's `x-ingest` block and a project's event definitions.

Marking (so QA can find what the suite created): every value the suite invents that can carry text
starts with `contract-test-<run id>-`: the idempotency key, an external id, the local part of an
email (`contract-test-<run>-<random>@example.com`), an undefined event's name; payloads carry
`"contract_test": "<run id>"` when their definition allows one more property. A body that would
carry no mark at all (say an identity by contact UUID, a closed payload and no idempotency key)
is given the operation's email identity instead, when it has one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingestspec.generator.config import EventDefinition, Project
from ingestspec.generator.spec.model import IdentityField, Ingest, Operation, object_fields

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
    """Builds valid and deliberately broken request bodies for one operation of the target."""

    def __init__(self, target: Target, op: Operation) -> None:
        assert op.ingest is not None
        self.target = target
        self.op = op
        self.ingest: Ingest = op.ingest
        self.schema: Mapping[str, Any] = event_schema(op)
        self.properties: Mapping[str, Any] = object_fields(self.schema).properties

    # -- values from the field's own schema -----------------------------------------------------

    def schema_of(self, name: str) -> Mapping[str, Any]:
        """The request schema of a body field (empty: anything)."""
        schema = self.properties.get(name)
        return schema if isinstance(schema, Mapping) else {}

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
        if key.location == "body":
            return self.schema_of(key.name)
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
        schema = self.schema_of(self.ingest.occurred_at_field)
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
        field = self.schema_of(self.ingest.payload.field)
        return {"allOf": [definition.schema, field]} if field else definition.schema

    def nameable(self, name: str) -> bool:
        """Whether a request of this operation can name the event (a constant name allows only itself)."""
        return self.ingest.event_field is not None or name == self.ingest.event_name

    def undefined_event_name(self, project: Project) -> str:
        """An event name the project does not define and no reserved prefix covers."""
        schema = self.schema_of(self.ingest.event_field or "")
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
        schema = self.schema_of(self.ingest.event_field or "")
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
        """The identity field of the body whose value can carry the mark (an email first), if any."""
        fields = self.ingest.identity.in_body
        fits = [f for f in fields if any(is_valid(self.schema_of(f.name), v) for v in self._marks(f))]
        emails = [f for f in fits if self.schema_of(f.name).get("format") == "email" or f.kind == "email"]
        return emails[0] if emails else fits[0] if fits else None

    def one_identity(self) -> dict[str, Any]:
        """A single identity field with a valid (marked when possible) value; none when the path
        names the contact (the probe fills every path parameter)."""
        if self.ingest.identity.always_named:
            return {}
        field = self.marked_field() or self.ingest.identity.fields[0]
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
        """A body the server must accept: event, payload, one identity, a fresh idempotency key (in
        `KEY_SLOT` when it travels outside the body), every other required field from its schema."""
        body: dict[str, Any] = {self.ingest.event_field: event.name} if self.ingest.event_field else {}
        body.update(identity if identity is not None else self.one_identity())
        self.put_payload(body, event.payload)
        if occurred_at is not None:
            body[self.ingest.occurred_at_field] = occurred_at
        if self.ingest.dedupe:
            key = dedupe_key if dedupe_key is not None else self.fresh_key()
            body[self.ingest.dedupe.key_field or KEY_SLOT] = key
        self.fill_required(body)
        return body

    def put_payload(self, body: dict[str, Any], payload: Any) -> None:
        """`payload` where the payload field is: its member, or (the empty pointer) the body's own
        members, as a profile update's attributes are."""
        if self.ingest.payload.field == "" and isinstance(payload, Mapping):
            body.update(payload)
        else:
            body[self.ingest.payload.field] = payload

    def payload_of(self, body: Mapping[str, Any]) -> Any:
        """The payload a body carries (the whole body for the empty pointer)."""
        return body if self.ingest.payload.field == "" else body.get(self.ingest.payload.field)

    def fits_schema(self, body: Mapping[str, Any]) -> bool:
        """Whether the request's (or item's) schema takes `body`, an idempotency key kept aside."""
        return is_valid(self.schema, {k: v for k, v in body.items() if k != KEY_SLOT})

    def fill_required(self, body: dict[str, Any]) -> None:
        """Give every required field the body lacks a valid value (its simplest; now for the time),
        through `allOf`, and for each `anyOf`/`oneOf` the fields of the first branch it can fill."""
        fields = object_fields(self.schema)
        for name in fields.required:
            self._filled(body, name)
        for branches in fields.alternatives:
            if any(all(self._present(body, n) for n in branch) for branch in branches):
                continue
            for branch in branches:
                trial = dict(body)
                if all(self._filled(trial, name) for name in branch):
                    body.update(trial)
                    break

    def _present(self, body: Mapping[str, Any], name: str) -> bool:
        # The credential field is added when the request is sent.
        return name in body or name == self.ingest.credential_field

    def _filled(self, body: dict[str, Any], name: str) -> bool:
        """Whether the body has field `name`, given its simplest valid value when it lacked it."""
        if self._present(body, name):
            return True
        if name == self.ingest.occurred_at_field:
            body[name] = self.timestamp()
            return True
        found, value = minimal_value(self.schema_of(name))
        if found:
            body[name] = value
        return found

    def is_marked(self, body: Mapping[str, Any]) -> bool:
        """Whether a body carries the suite's mark somewhere QA can search."""
        payload = self.payload_of(body)
        if isinstance(payload, Mapping) and payload.get(MARKER_PROPERTY) == self.target.run_id:
            return True
        for value in body.values():
            if isinstance(value, str) and value.startswith(f"{MARK}-{self.target.run_id}"):
                return True
        return str(self.ingest.event_of(body) or "").startswith(MARK)

    def marked(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A valid body (one a fuzzer drew) carrying the run's mark: a fresh marked idempotency key,
        the marker in its payload, else a marked identity; unchanged if marking would break it."""
        result = dict(body)
        key_field = self.ingest.dedupe.key_field if self.ingest.dedupe else None
        if key_field and key_field in self.properties:
            result[key_field] = self.fresh_key()
        payload = self.payload_of(result)
        if isinstance(payload, dict):
            definition = self.target.project.events.get(str(self.ingest.event_of(result)))
            schema = (
                self.payload_schema(definition) if definition else self.schema_of(self.ingest.payload.field)
            )
            self.put_payload(result, with_marker(schema, payload, self.target.run_id))
        marked = self.marked_field()
        if not self.is_marked(result) and marked is not None:
            for name in self.ingest.identity.names:
                result.pop(name, None)
            result[marked.name] = self.identity_value(marked)
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
    return _merged(op.kind_schema(op.ingest.items.kinds[0]))


def _merged(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """One object schema of a schema and the branches every instance meets (allOf, a one-branch
    oneOf/anyOf): their properties and required members together."""
    parts = [schema]
    for key in ("allOf", "oneOf", "anyOf"):
        branches = [b for b in schema.get(key) or () if isinstance(b, Mapping)]
        if key == "allOf" or len(branches) == 1:
            parts += [_merged(b) for b in branches]
    merged: dict[str, Any] = {
        k: v for k, v in schema.items() if k not in ("allOf", "oneOf", "anyOf", "discriminator")
    }
    merged["properties"] = {k: v for p in parts for k, v in (p.get("properties") or {}).items()}
    merged["required"] = list(dict.fromkeys(r for p in parts for r in p.get("required") or ()))
    closed = [p.get("additionalProperties") for p in parts if "additionalProperties" in p]
    if closed:
        merged["additionalProperties"] = closed[-1]
    return merged


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
