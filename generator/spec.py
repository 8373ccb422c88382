"""The typed model of an ingest spec that the generator, the linter and the contract suite all read.

Nothing outside `loader.py` walks the raw YAML: templates, checks and scenarios work from these
frozen dataclasses, so an edited spec changes the server and the contract checks alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Failures of the server itself rather than of a request.
SERVER_ERRORS = ("storage_unavailable",)
# Answers for requests outside the documented operations (unknown path, wrong method).
ROUTING_ERRORS = ("route_not_found", "method_not_allowed")

# Placeholders an error message may use; anything else in braces is literal text.
PLACEHOLDERS = ("event", "limit", "prefix", "key")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


def format_message(template: str, params: Mapping[str, object]) -> str:
    """Fill the known placeholders of an error message, leaving unknown ones as written."""
    return _PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), template)


@dataclass(frozen=True)
class Example:
    """A named example value from the spec."""

    name: str
    value: Any
    summary: str | None = None


@dataclass(frozen=True)
class Response:
    """A documented response of an operation."""

    status: int
    description: str
    media_type: str | None
    schema: Mapping[str, Any] | None
    examples: tuple[Example, ...] = ()
    headers: tuple[str, ...] = ()
    schema_name: str | None = None  # the component the schema refers to, which names its generated model


@dataclass(frozen=True)
class ResponseField:
    """One field of a success body: copied from the stored event (`source`) or a constant."""

    name: str
    source: str | None = None
    const: Any = None


@dataclass(frozen=True)
class ResponseShape:
    """How the server builds a success body from a stored event."""

    status: int
    fields: tuple[ResponseField, ...]
    envelope: str | None = None
    header: str | None = None

    def render(self, values: Mapping[str, Any]) -> dict[str, Any]:
        body = {f.name: (values[f.source] if f.source else f.const) for f in self.fields}
        return {self.envelope: body} if self.envelope else body

    def unwrap(self, body: Mapping[str, Any]) -> Any:
        """The fields object of a body of this shape (the body itself when there is no envelope)."""
        return body.get(self.envelope) if self.envelope else body


@dataclass(frozen=True)
class IdentityField:
    name: str
    kind: str
    normalize: str = "none"


@dataclass(frozen=True)
class Identity:
    """Which request fields name the contact, and how they combine."""

    mode: str  # "exactly_one" | "first_present"
    fields: tuple[IdentityField, ...]
    missing_error: str
    conflict_error: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


@dataclass(frozen=True)
class PayloadRule:
    """Which field holds the payload and how it is checked against the event definition."""

    field: str
    validation: str  # "required" | "when_defined"
    mismatch_error: str
    undefined_event_error: str | None = None


@dataclass(frozen=True)
class ReservedPrefixes:
    prefixes: tuple[str, ...]
    error: str


@dataclass(frozen=True)
class PayloadLimit:
    default_bytes: int
    error: str


@dataclass(frozen=True)
class Dedupe:
    """Idempotency: which field is the key, its scope, and what a replay looks like."""

    key_field: str
    scope: str
    replay: ResponseShape
    on_body_mismatch: str = "replay"
    mismatch_error: str | None = None
    window: str = "retention"


@dataclass(frozen=True)
class Processing:
    max_attempts: int = 5
    backoff_initial_seconds: float = 1.0
    backoff_multiplier: float = 2.0
    backoff_max_seconds: float = 300.0


@dataclass(frozen=True)
class ErrorEntry:
    """One failure the server can answer: its status, constant body fields and message template."""

    key: str
    status: int
    message: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorEnvelope:
    """The API's error body and the catalogue of failures it is used for."""

    media_type: str
    status_field: str
    message_field: str
    catalogue: Mapping[str, ErrorEntry]
    details_field: str | None = None

    def render(
        self,
        key: str,
        params: Mapping[str, object] | None = None,
        details: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        entry = self.catalogue[key]
        body: dict[str, Any] = {self.status_field: entry.status, **entry.fields}
        body[self.message_field] = format_message(entry.message, params or {})
        if details and self.details_field:
            body[self.details_field] = details
        return body


@dataclass(frozen=True)
class Ingest:
    """The operation's `x-ingest` block: everything the server does that OpenAPI cannot say."""

    event_field: str
    occurred_at_field: str
    identity: Identity
    payload: PayloadRule
    payload_limit: PayloadLimit
    response: ResponseShape
    errors: ErrorEnvelope
    id_format: str = "uuid7"
    reserved: ReservedPrefixes | None = None
    dedupe: Dedupe | None = None
    retention_days: int = 90
    processing: Processing = field(default_factory=Processing)

    def used_errors(self) -> tuple[str, ...]:
        """Catalogue keys this behaviour refers to, in the order the server checks them."""
        keys = [
            "unauthorized",
            "unsupported_media_type",
            self.payload_limit.error,
            "malformed_json",
            "invalid_request",
            self.identity.missing_error,
            self.identity.conflict_error,
            self.reserved.error if self.reserved else None,
            self.payload.undefined_event_error,
            self.payload.mismatch_error,
            self.dedupe.mismatch_error if self.dedupe else None,
        ]
        return tuple(dict.fromkeys(k for k in keys if k))

    def server_errors(self) -> tuple[str, ...]:
        """Catalogue keys the server answers of its own accord (its store failing), not a request."""
        return tuple(key for key in SERVER_ERRORS if key in self.errors.catalogue)


@dataclass(frozen=True)
class Operation:
    """One documented operation."""

    operation_id: str
    method: str
    path: str
    summary: str
    description: str
    request_schema: Mapping[str, Any]
    request_media_type: str
    request_examples: tuple[Example, ...]
    responses: Mapping[int, Response]
    secured: bool
    ingest: Ingest | None = None

    def response(self, status: int) -> Response | None:
        return self.responses.get(status)


@dataclass(frozen=True)
class Spec:
    """A loaded spec: its identity, its operations and the raw document for tools that need it."""

    name: str
    path: Path
    sha256: str
    title: str
    version: str
    base_path: str
    operations: tuple[Operation, ...]
    document: Mapping[str, Any]

    @property
    def ingest_operations(self) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if op.ingest is not None)

    def operation(self, operation_id: str) -> Operation:
        for op in self.operations:
            if op.operation_id == operation_id:
                return op
        raise KeyError(operation_id)
