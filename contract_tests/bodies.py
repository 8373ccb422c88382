"""Request bodies built from an operation's `x-ingest` block and a project's event definitions.

Marking (so QA can find what the suite created): every value the suite invents that can carry text
starts with `contract-test-<run id>-`: the idempotency key, an external id, the local part of an
email (`contract-test-<run>-<random>@example.com`), an undefined event's name; payloads carry
`"contract_test": "<run id>"` when their definition allows one more property. A body that would
carry no mark at all (say an identity by contact UUID, a closed payload and no idempotency key)
is given the operation's email identity instead, when it has one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from generator.config import EventDefinition, Project
from generator.spec import IdentityField, Ingest, Operation

from .payloads import MARKER_PROPERTY, is_valid, minimal_payload, with_marker
from .target import MARK, Target


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
        self.properties: Mapping[str, Any] = op.request_schema.get("properties") or {}

    # -- events ---------------------------------------------------------------------------------

    def defined_events(self, project: Project) -> list[Event]:
        """Each event the project defines for which a valid payload can be built, marked when allowed."""
        events = []
        for name in sorted(project.events):
            if self.reserved_prefix(name) or not self.nameable(name):
                continue
            definition = project.events[name]
            payload = minimal_payload(definition.schema)
            if payload is not None:
                events.append(
                    Event(name, with_marker(definition.schema, payload, self.target.run_id), definition)
                )
        return events

    def nameable(self, name: str) -> bool:
        """Whether a request of this operation can name the event (a constant name allows only itself)."""
        return self.ingest.event_field is not None or name == self.ingest.event_name

    def undefined_event_name(self, project: Project) -> str:
        """An event name the project does not define and no reserved prefix covers."""
        name = f"{MARK}.undefined.{self.target.run_id}"
        while name in project.events or self.reserved_prefix(name):
            name = "x" + name
        return name

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

    def identity_value(self, field: IdentityField) -> str:
        """A valid value for an identity field, marked when its format allows text."""
        schema = self.properties.get(field.name) or {}
        fmt = schema.get("format")
        if fmt == "email" or field.kind == "email":
            return f"{self.target.marker()}@example.com"
        if fmt == "uuid":
            return str(uuid.uuid4())
        value = self.target.marker()
        limit = schema.get("maxLength")
        return value[:limit] if isinstance(limit, int) else value

    def marked_field(self) -> IdentityField | None:
        """The identity field whose value carries the mark best (an email, else free text)."""
        fields = self.ingest.identity.fields
        for field in fields:
            if (self.properties.get(field.name) or {}).get("format") == "email" or field.kind == "email":
                return field
        for field in fields:
            if (self.properties.get(field.name) or {}).get("format") != "uuid":
                return field
        return None

    def one_identity(self) -> dict[str, str]:
        """A single identity field with a valid (marked when possible) value."""
        field = self.marked_field() or self.ingest.identity.fields[0]
        return {field.name: self.identity_value(field)}

    # -- whole bodies ---------------------------------------------------------------------------

    def valid(
        self,
        event: Event,
        *,
        identity: Mapping[str, str] | None = None,
        dedupe_key: str | None = None,
        occurred_at: str | None = None,
    ) -> dict[str, Any]:
        """A body the server must accept: event, payload, one identity, a fresh idempotency key."""
        body: dict[str, Any] = {self.ingest.event_field: event.name} if self.ingest.event_field else {}
        body.update(identity if identity is not None else self.one_identity())
        body[self.ingest.payload.field] = event.payload
        if occurred_at is not None:
            body[self.ingest.occurred_at_field] = occurred_at
        if self.ingest.dedupe and self.ingest.dedupe.key_field:
            body[self.ingest.dedupe.key_field] = dedupe_key or self.target.marker()
        return body

    def is_marked(self, body: Mapping[str, Any]) -> bool:
        """Whether a body carries the suite's mark somewhere QA can search."""
        for name, value in body.items():
            if name == self.ingest.payload.field and isinstance(value, Mapping):
                if value.get(MARKER_PROPERTY) == self.target.run_id:
                    return True
            elif isinstance(value, str) and value.startswith(f"{MARK}-{self.target.run_id}"):
                return True
        return str(self.ingest.event_of(body) or "").startswith(MARK)

    def payload_fits(self, definition: EventDefinition | None, payload: Any) -> bool:
        return definition is None or is_valid(definition.schema, payload)

    def limit(self, project: Project) -> int:
        """The project's request-body cap: its own, else the spec's default."""
        return project.payload_limit_bytes or self.ingest.payload_limit.default_bytes


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
