"""The typed model of an ingest spec that the generator, the linter and the contract suite all read.

Nothing outside `loader.py` walks the raw YAML: templates, checks and scenarios work from these
frozen dataclasses, so an edited spec changes the server and the contract checks alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Failures of the server itself rather than of a request, and the connection's own limits (a head
# too large, a request too slow: answered in the envelope by the generated protocol when the
# catalogue has them, plain text otherwise).
SERVER_ERRORS = ("storage_unavailable", "request_timeout", "headers_too_large")
# Answers for requests outside the documented operations (unknown path, wrong method).
ROUTING_ERRORS = ("route_not_found", "method_not_allowed")
# The x-ingest block's versions: 1 (no `version` key) is the vocabulary of the first two specs,
# read by upgrading it to the current one (`ingestspec migrate` writes the upgrade out).
X_INGEST_VERSION = 2

# Placeholders an error message may use; anything else in braces is literal text.
PLACEHOLDERS = ("event", "limit", "prefix", "key", "retry_after")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


def format_message(template: str, params: Mapping[str, object]) -> str:
    """Fill the known placeholders of an error message, leaving unknown ones as written."""
    return _PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), template)


def pointer_parts(pointer: str) -> tuple[str, ...]:
    """The reference tokens of a JSON Pointer (RFC 6901); `""` is the whole document."""
    if not pointer:
        return ()
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/"))


def escape(token: object) -> str:
    """One reference token of a JSON Pointer (RFC 6901)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer_of(*tokens: object) -> str:
    """The JSON Pointer made of `tokens`: `pointer_of("paths", "/events")` is `/paths/~1events`."""
    return "".join("/" + escape(t) for t in tokens)


def schema_types(schema: Mapping[str, Any]) -> set[str]:
    """The JSON types a schema declares with `type` (empty when it declares none)."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {str(t) for t in declared}
    return set()


def pointer_get(document: Any, pointer: str) -> Any:
    """The value at `pointer`, or None when any step is missing."""
    node = document
    for part in pointer_parts(pointer):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return None
    return node


def leaves(document: Any, prefix: str = "") -> dict[str, Any]:
    """Every non-object value of a JSON object by its pointer (arrays are leaves): `{"/a/b": 1}`."""
    if not isinstance(document, Mapping) or (prefix and not document):
        return {prefix: document}
    found: dict[str, Any] = {}
    for key, value in document.items():
        found.update(leaves(value, prefix + pointer_of(key)))
    return found


def pointer_set(document: dict[str, Any], pointer: str, value: Any) -> None:
    """Set the value at `pointer`, making the objects on the way."""
    *parents, last = pointer_parts(pointer)
    node = document
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def field_pointer(name: str) -> str:
    """The JSON Pointer of a field x-ingest names: a pointer as written, a plain name its top-level member.

    `/context/traits` is inside the item; `userId` is `/userId`, so every spec written before
    pointers reads the same.
    """
    return name if name.startswith("/") else pointer_of(name)


def item_get(item: Any, pointer: str, default: Any = None) -> Any:
    """The value at `pointer` in a JSON object, through objects only; `default` when a step is missing."""
    node = item
    for part in pointer_parts(pointer):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def schemas_at(schema: Mapping[str, Any], pointer: str) -> list[Mapping[str, Any]]:
    """The (resolved) schemas a member at `pointer` of an instance of `schema` may be judged by.

    Walks `properties` and, at each step, the branches of `allOf`, `oneOf` and `anyOf`; empty
    when no branch declares the member (lint then says the pointer does not resolve).
    """
    found = [schema]
    for part in pointer_parts(pointer):
        found = [
            sub
            for node in found
            for branch in _branches(node)
            if isinstance(sub := (branch.get("properties") or {}).get(part), Mapping)
        ]
    return found


def _branches(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A schema and every schema its `allOf`, `oneOf` and `anyOf` combine, recursively."""
    found = [schema]
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(key) or ():
            if isinstance(sub, Mapping):
                found += _branches(sub)
    return found


def properties_of(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The member schemas a schema declares, its allOf/oneOf/anyOf branches' included (first wins)."""
    found: dict[str, Any] = {}
    for branch in _branches(schema):
        for name, sub in (branch.get("properties") or {}).items():
            found.setdefault(name, sub)
    return found


def required_at(schema: Mapping[str, Any], pointer: str) -> bool:
    """Whether every instance of `schema` has the member at `pointer` (each step required)."""
    nodes = [schema]
    for part in pointer_parts(pointer):
        if not all(_requires(node, part) for node in nodes):
            return False
        nodes = [
            sub
            for node in nodes
            for branch in _branches(node)
            if isinstance(sub := (branch.get("properties") or {}).get(part), Mapping)
        ]
    return True


def _requires(schema: Mapping[str, Any], name: str) -> bool:
    """Whether `schema` requires `name`: itself, one of its allOf, or every branch of a oneOf/anyOf."""
    if name in (schema.get("required") or ()):
        return True
    if any(_requires(sub, name) for sub in schema.get("allOf") or () if isinstance(sub, Mapping)):
        return True
    return any(
        bool(subs) and all(_requires(sub, name) for sub in subs if isinstance(sub, Mapping))
        for subs in (schema.get("oneOf") or (), schema.get("anyOf") or ())
    )


def item_schema(request: Mapping[str, Any], items: str | None) -> Mapping[str, Any]:
    """The schema of one item: the request's, or the `items` of the batch array at pointer `items`."""
    if items is None:
        return request
    arrays = schemas_at(request, items)
    return next((a["items"] for a in arrays if isinstance(a.get("items"), Mapping)), {})


def kind_schema(item: Mapping[str, Any], discriminator: str | None, value: str | None) -> Mapping[str, Any]:
    """The schema items of one kind meet: the item schema with only the `oneOf`/`anyOf` branches
    that fix the discriminator to `value` (by `const` or `enum`); the whole schema when none does."""
    if discriminator is None:
        return item

    def fixes(branch: Mapping[str, Any]) -> bool:
        return any(
            s.get("const") == value or value in (s.get("enum") or ())
            for s in schemas_at(branch, discriminator)
        )

    narrowed = dict(item)
    for key in ("oneOf", "anyOf"):
        branches = [b for b in item.get(key) or () if isinstance(b, Mapping)]
        if any(fixes(b) for b in branches):
            narrowed[key] = [b for b in branches if fixes(b)]
    return narrowed


def admits_null(schemas: list[Mapping[str, Any]]) -> bool:
    """Whether any of the schemas a member is judged by lets it be null (`type: [string, "null"]`)."""
    return any("null" in schema_types(s) or s.get("const", 0) is None for s in schemas)


@dataclass(frozen=True)
class Example:
    """A named example value from the spec."""

    name: str
    value: Any
    summary: str | None = None


@dataclass(frozen=True)
class SecurityScheme:
    """How a request carries its API key, from `components.securitySchemes`.

    `kind` is `bearer` (HTTP bearer), `basic` (HTTP basic, the key as user name and any password,
    Segment's write key), `header` or `query` (`apiKey` with its `parameter` name); anything else is
    kept as `type/scheme` so lint can name what is not implemented.
    """

    name: str
    kind: str
    parameter: str | None = None

    @property
    def supported(self) -> bool:
        return self.kind in ("bearer", "basic", "header", "query")


@dataclass(frozen=True)
class Parameter:
    """A documented path, query, header or cookie parameter."""

    name: str
    location: str
    required: bool
    schema: Mapping[str, Any]


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
    """A request field that may name the contact; `kind` is the label stored and answered for it."""

    name: str
    kind: str
    normalize: str = "none"

    @property
    def pointer(self) -> str:
        return field_pointer(self.name)


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

    @property
    def pointer(self) -> str:
        return field_pointer(self.field)


@dataclass(frozen=True)
class ReservedPrefixes:
    prefixes: tuple[str, ...]
    error: str


@dataclass(frozen=True)
class PayloadLimit:
    default_bytes: int
    error: str


@dataclass(frozen=True)
class KeySource:
    """Where a request carries its idempotency key: a body field, a header or a path parameter."""

    location: str  # "body" | "header" | "path"
    name: str


@dataclass(frozen=True)
class Dedupe:
    """Idempotency: where the key is, its scope, and what a replay looks like."""

    key: KeySource
    scope: str
    replay: ResponseShape
    on_body_mismatch: str = "replay"
    mismatch_error: str | None = None
    window_seconds: int | None = None  # None: as long as the event is retained

    @property
    def key_field(self) -> str | None:
        """The body field holding the key, when the key travels in the body."""
        return self.key.name if self.key.location == "body" else None


@dataclass(frozen=True)
class RateLimit:
    """Requests allowed per API key in a window; past it the error answers with `Retry-After`."""

    requests: int
    per_seconds: float
    error: str


@dataclass(frozen=True)
class Processing:
    max_attempts: int = 5
    backoff_initial_seconds: float = 1.0
    backoff_multiplier: float = 2.0
    backoff_max_seconds: float = 300.0


@dataclass(frozen=True)
class Batch:
    """Several events in one request (Segment's `batch`, Amplitude's `events`), each judged on its own.

    The block's other rules (event, identity, payload, dedupe...) apply to each item of the array in
    `items_field`; an item that fails them gets its error body in its result, the others are stored
    (partial acceptance). Failures of the request as a whole (key, media type, size, JSON, the wrapper's
    schema, more than `max_items`) refuse every item. `response` may use the sources `accepted`,
    `rejected` (counts) and `results` (one `result` per item, in order; sources `index`, `status`,
    `error` and the stored event's own, which are null for a refused item).
    """

    items_field: str
    max_items: int
    response: ResponseShape
    result: ResponseShape | None = None
    # "per_item": refused items are named in the answer's results, the others stored;
    # "all_or_nothing": any refused item refuses the whole request, and nothing is stored.
    acceptance: str = "per_item"

    @property
    def names_refusals(self) -> bool:
        """Whether the success answer can say which items were refused (it carries `results`)."""
        return any(f.source == "results" for f in self.response.fields)


@dataclass(frozen=True)
class ItemKind:
    """The rules of one kind of item: how its event name, identity and payload are read.

    An operation without `kinds` has one kind (`value` None) made of its block's own rules; with
    `kinds`, each value of the discriminator has its own, falling back to the block's for what it
    does not say. `pointer` is where its rules are written in the x-ingest block.
    """

    value: str | None
    event_field: str | None
    event_name: str | None
    identity: Identity
    payload: PayloadRule
    pointer: str = ""
    own: tuple[str, ...] = ()  # which of "event", "identity", "payload" it says itself

    def at(self, rule: str) -> str:
        """Where in the x-ingest block a rule of this kind is written: its own, or the block's."""
        return self.pointer if rule in self.own else ""

    @property
    def event(self) -> str | None:
        """The JSON Pointer of the event field (None: the constant `event_name`)."""
        return field_pointer(self.event_field) if self.event_field else None

    def event_of(self, item: Mapping[str, Any]) -> Any:
        return item_get(item, self.event) if self.event else self.event_name

    def identity_of(self, item: Mapping[str, Any]) -> tuple[IdentityField, Any] | None:
        """The identity field that names the contact and its value; null is absent. None: none does."""
        present = [(f, v) for f in self.identity.fields if (v := item_get(item, f.pointer)) is not None]
        return present[0] if present else None


@dataclass(frozen=True)
class Kinds:
    """Items of several kinds in one operation (Segment's track, identify, page... in one batch).

    The value at `discriminator` (a name or a JSON Pointer into the item; by default the OpenAPI
    `discriminator.propertyName` of the item schema) chooses the kind; an unknown value is an
    invalid request.
    """

    discriminator: str
    kinds: tuple[ItemKind, ...]

    @property
    def pointer(self) -> str:
        return field_pointer(self.discriminator)


@dataclass(frozen=True)
class ReadEvent:
    """What the item rules read out of one item (the model's own reading, for tests and the suite)."""

    kind: ItemKind
    event: Any
    identity: tuple[IdentityField, Any] | None
    payload: Any
    occurred_at: Any


@dataclass(frozen=True)
class ItemRules:
    """How one event is read out of a request item: its kind, its fields located by JSON Pointer,
    its payload. The server's generated reader (context.py), lint, diff and the contract suite all
    take it from here, so a new body shape is one change here.
    """

    kinds: tuple[ItemKind, ...]
    discriminator: str | None  # the JSON Pointer of the kind's field (None: one kind)
    occurred_at: str
    credential: str | None
    dedupe_key: str | None
    items: str | None  # where a batch's items are in the request body (None: the body is the item)

    def kind_of(self, item: Mapping[str, Any]) -> ItemKind | None:
        """The kind an item is of (the only one without a discriminator); None for an unknown value."""
        if self.discriminator is None:
            return self.kinds[0]
        value = item_get(item, self.discriminator)
        return next((k for k in self.kinds if k.value == value), None)

    def read(self, item: Mapping[str, Any]) -> ReadEvent | None:
        """The event an item makes, as the server reads it (before its checks); None: no known kind."""
        kind = self.kind_of(item)
        if kind is None:
            return None
        payload = item_get(item, kind.payload.pointer, {})
        return ReadEvent(
            kind, kind.event_of(item), kind.identity_of(item), payload, item_get(item, self.occurred_at)
        )

    def locations(self) -> list[tuple[str, str, ItemKind | None]]:
        """Every field the rules read from an item: (where in x-ingest, its JSON Pointer, its kind).

        Kind-free fields (occurred_at, dedupe key, discriminator) come with kind None; the credential
        and the batch's items are read from the request, not the item, and are not listed.
        """
        found: list[tuple[str, str, ItemKind | None]] = [
            (f"{kind.at('event')}/event_field", kind.event, kind) for kind in self.kinds if kind.event
        ]
        found.append(("/occurred_at_field", self.occurred_at, None))
        found += [(f"{kind.at('payload')}/payload/field", kind.payload.pointer, kind) for kind in self.kinds]
        found += [
            (f"{kind.at('identity')}/identity/fields/{i}/name", f.pointer, kind)
            for kind in self.kinds
            for i, f in enumerate(kind.identity.fields)
        ]
        if self.dedupe_key:
            found.append(("/dedupe/key/name", self.dedupe_key, None))
        if self.discriminator:
            found.append(("/kinds/discriminator", self.discriminator, None))
        return found


@dataclass(frozen=True)
class Read:
    """A read operation over stored events (`x-ingest-read`): one event of the key's project by its id.

    Another project's event, or an unknown id, is the `not_found_error`; the response may use the
    stored event's sources plus `payload` and `processing_status` (pending, processed, dead_letter).
    """

    id_parameter: str
    response: ResponseShape
    not_found_error: str


@dataclass(frozen=True)
class ErrorEntry:
    """One failure the server can answer: its status, constant body fields and message template."""

    key: str
    status: int
    message: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DetailItem:
    """The names of a detail item's two members: where the failure is (a JSON Pointer) and what it is."""

    path: str = "path"
    message: str = "message"


@dataclass(frozen=True)
class ErrorEnvelope:
    """The API's error body and the catalogue of failures it is used for.

    Every member is located by a JSON Pointer, so a flat body (`/detail`) and a nested one
    (`/error/message`) are said the same way. A catalogue entry's `fields` are keyed by pointer too.
    """

    media_type: str
    message_pointer: str
    catalogue: Mapping[str, ErrorEntry]
    status_pointer: str | None = None
    details_pointer: str | None = None
    detail_item: DetailItem = field(default_factory=DetailItem)

    def render(
        self,
        key: str,
        params: Mapping[str, object] | None = None,
        details: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """The body for a catalogue entry; `details` items are `{"path", "message"}` dicts."""
        entry = self.catalogue[key]
        body: dict[str, Any] = {}
        if self.status_pointer:
            pointer_set(body, self.status_pointer, entry.status)
        for pointer, value in entry.fields.items():
            pointer_set(body, pointer, value)
        pointer_set(body, self.message_pointer, format_message(entry.message, params or {}))
        if details and self.details_pointer:
            item = self.detail_item
            pointer_set(
                body,
                self.details_pointer,
                [{item.path: d["path"], item.message: d["message"]} for d in details],
            )
        return body

    def message_of(self, body: Any) -> Any:
        return pointer_get(body, self.message_pointer)

    def status_of(self, body: Any) -> Any:
        return pointer_get(body, self.status_pointer) if self.status_pointer else None

    def details_of(self, body: Any) -> Any:
        return pointer_get(body, self.details_pointer) if self.details_pointer else None

    def pointers(self, key: str) -> set[str]:
        """Every pointer a body for `key` may set: the envelope's members and the entry's constants."""
        found = {self.message_pointer, *self.catalogue[key].fields}
        found |= {p for p in (self.status_pointer, self.details_pointer) if p}
        return found


@dataclass(frozen=True)
class Ingest:
    """The operation's `x-ingest` block: everything the server does that OpenAPI cannot say."""

    event_field: str | None  # None: every event of the operation has the name `event_name`
    occurred_at_field: str
    identity: Identity
    payload: PayloadRule
    payload_limit: PayloadLimit
    response: ResponseShape
    errors: ErrorEnvelope
    version: int = X_INGEST_VERSION
    event_name: str | None = None
    # A body field carrying the API key (Amplitude's `api_key`), for APIs that send it there rather
    # than by a security scheme; checked right after the body is parsed.
    credential_field: str | None = None
    id_format: str = "uuid7"
    id_prefix: str = ""
    # How `occurred_at_field` is written: an RFC 3339 string, or a number of seconds or milliseconds
    # since the Unix epoch.
    occurred_at_unit: str = "rfc3339"
    reserved: ReservedPrefixes | None = None
    dedupe: Dedupe | None = None
    rate_limit: RateLimit | None = None
    batch: Batch | None = None
    retention_days: int = 90
    # Error statuses the operation documents that the generated server never answers itself (a
    # gateway in front of it does): lint does not ask the server to produce them.
    documented_only: tuple[int, ...] = ()
    processing: Processing = field(default_factory=Processing)
    kinds: Kinds | None = None  # items of several kinds, each with its own rules

    @property
    def items(self) -> ItemRules:
        """How one event is read out of an item of this operation."""
        own = ItemKind(None, self.event_field, self.event_name, self.identity, self.payload)
        key = self.dedupe.key_field if self.dedupe else None
        return ItemRules(
            kinds=self.kinds.kinds if self.kinds else (own,),
            discriminator=self.kinds.pointer if self.kinds else None,
            occurred_at=field_pointer(self.occurred_at_field),
            credential=field_pointer(self.credential_field) if self.credential_field else None,
            dedupe_key=field_pointer(key) if key else None,
            items=field_pointer(self.batch.items_field) if self.batch else None,
        )

    def event_of(self, body: Mapping[str, Any]) -> Any:
        """The event name a request body names (the operation's constant name when it has one)."""
        read = self.items.read(body)
        return read.event if read else None

    def used_errors(self) -> tuple[str, ...]:
        """Catalogue keys this behaviour refers to, in the order the server checks them."""
        keys = [step.error(self) for step in STEPS if step.role == "request"]
        for kind in self.kinds.kinds if self.kinds else ():  # each kind's own identity and payload errors
            keys += [kind.identity.missing_error, kind.identity.conflict_error]
            keys += [kind.payload.undefined_event_error, kind.payload.mismatch_error]
        return tuple(dict.fromkeys(k for k in keys if k))

    def server_errors(self) -> tuple[str, ...]:
        """Catalogue keys the server answers of its own accord (its store failing), not a request."""
        return tuple(key for key in SERVER_ERRORS if key in self.errors.catalogue)


@dataclass(frozen=True)
class Step:
    """One behaviour step of an ingest operation and the error it answers.

    `STEPS` is the single list of them: lint, docs, the contract suite's producers and the x-ingest
    schema's required catalogue keys are all derived from it (`tests/generator/test_steps.py`).
    """

    name: str
    role: str  # "request": a request provokes it; "server": the server's own failure; "routing"
    error: Callable[[Ingest], str | None]
    scenario: str | None  # the contract scenario that provokes it, if any
    fixed_key: str | None = None  # a catalogue key every spec must have


def _fixed(key: str) -> Callable[[Ingest], str | None]:
    return lambda ingest: key


STEPS: tuple[Step, ...] = (
    Step("authenticate", "request", _fixed("unauthorized"), "missing_api_key", "unauthorized"),
    Step("rate_limit", "request", lambda i: i.rate_limit.error if i.rate_limit else None, "rate_limited"),
    Step(
        "media_type",
        "request",
        _fixed("unsupported_media_type"),
        "wrong_content_type",
        "unsupported_media_type",
    ),
    Step("size", "request", lambda i: i.payload_limit.error, "oversize_body"),
    Step("json", "request", _fixed("malformed_json"), "malformed_json", "malformed_json"),
    Step("envelope", "request", _fixed("invalid_request"), "invalid_envelope", "invalid_request"),
    Step("identity_missing", "request", lambda i: i.identity.missing_error, "missing_identity"),
    Step("identity_conflict", "request", lambda i: i.identity.conflict_error, "identity_conflict"),
    Step("reserved", "request", lambda i: i.reserved.error if i.reserved else None, "reserved_prefix"),
    Step("undefined_event", "request", lambda i: i.payload.undefined_event_error, "undefined_event"),
    Step("payload", "request", lambda i: i.payload.mismatch_error, "payload_schema_mismatch"),
    Step(
        "idempotency_mismatch",
        "request",
        lambda i: i.dedupe.mismatch_error if i.dedupe else None,
        "reused_key_different_body",
    ),
    Step("store", "server", _fixed("storage_unavailable"), None, "storage_unavailable"),
    Step("route", "routing", _fixed("route_not_found"), "unknown_route", "route_not_found"),
    Step("method", "routing", _fixed("method_not_allowed"), "method_not_allowed", "method_not_allowed"),
)
# Catalogue keys every x-ingest block must define, whatever else it says.
FIXED_ERRORS = tuple(step.fixed_key for step in STEPS if step.fixed_key)


@dataclass(frozen=True)
class Operation:
    """One documented operation."""

    operation_id: str
    method: str
    path: str
    summary: str
    description: str
    request_schema: Mapping[str, Any]
    request_media_types: tuple[str, ...]
    request_examples: tuple[Example, ...]
    responses: Mapping[int, Response]
    # Alternatives from `security`: any one of them admits the request, and each needs all its schemes.
    security: tuple[tuple[SecurityScheme, ...], ...] = ()
    parameters: tuple[Parameter, ...] = ()
    request_required: bool = True
    ingest: Ingest | None = None
    read: Read | None = None
    pointer: str = ""  # where the operation is in the document, e.g. `/paths/~1events/post`

    def response(self, status: int) -> Response | None:
        return self.responses.get(status)

    @property
    def request_media_type(self) -> str:
        """The first documented request media type, the one clients are shown first."""
        return self.request_media_types[0]

    @property
    def secured(self) -> bool:
        """Whether every request must carry a key (an empty alternative makes the key optional)."""
        return bool(self.security) and all(self.security)

    @property
    def item_schema(self) -> Mapping[str, Any]:
        """The schema one item of the operation meets: the request's, or a batch item's."""
        return item_schema(self.request_schema, self.ingest.items.items if self.ingest else None)

    def kind_schema(self, kind: ItemKind) -> Mapping[str, Any]:
        """The schema the items of one kind meet (the item schema, narrowed to the kind's branches)."""
        assert self.ingest is not None
        return kind_schema(self.item_schema, self.ingest.items.discriminator, kind.value)

    @property
    def schemes(self) -> tuple[SecurityScheme, ...]:
        """Every scheme the operation accepts, each once, in the spec's order."""
        return tuple(dict.fromkeys(s for alternative in self.security for s in alternative))


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

    @property
    def read_operations(self) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if op.read is not None)

    def operation(self, operation_id: str) -> Operation:
        for op in self.operations:
            if op.operation_id == operation_id:
                return op
        raise KeyError(operation_id)
