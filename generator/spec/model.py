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
# The request content codings a generated server decodes (RFC 9110 section 8.4.1), named by an
# operation's `Content-Encoding` header parameter; `identity` (the body as is) is always accepted.
CONTENT_CODINGS = ("gzip", "deflate")
CONTENT_ENCODING = "content-encoding"
# Which part of HTTP basic credentials a security scheme's `x-ingest-basic` says is the key.
BASIC_KEY_PARTS = ("user", "password", "both")
BASIC_KEY = "x-ingest-basic"

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


@dataclass(frozen=True)
class ObjectFields:
    """What an object schema says of its fields, read through `allOf`, `anyOf` and `oneOf` as vendors
    write them: every property any part declares, the fields every valid body has, and for each
    `anyOf`/`oneOf`, the further fields each branch requires (a body satisfies one branch)."""

    properties: Mapping[str, Any]
    required: tuple[str, ...]
    alternatives: tuple[tuple[tuple[str, ...], ...], ...] = ()
    # What the schema and the parts every instance meets (`allOf`, a one-branch `anyOf`/`oneOf`) say
    # of other members (`additionalProperties`; the last part saying it wins); None: none says.
    additional: Any = None


_COMBINATORS = ("allOf", "anyOf", "oneOf")


def object_fields(schema: Any) -> ObjectFields:
    """The properties and required fields of `schema`, through `allOf`/`anyOf`/`oneOf` (resolved).

    A property declared in several `allOf` parts gets their keywords together (the nearer part's
    win a clash); one declared in several branches of an `anyOf`/`oneOf` keeps the first branch's
    schema. A field is required when the schema or an `allOf` part requires it, or every branch of
    an `anyOf`/`oneOf` does.
    """
    if schema is None or isinstance(schema, bool):
        return ObjectFields({}, ())  # no schema, or `true`/`false`: no fields named
    if not isinstance(schema, Mapping):
        # A malformed document (OpenAPI's own rules say where): nothing can be read from it.
        raise TypeError(f"a schema is an object or a boolean, not {type(schema).__name__}")
    own = schema.get("properties")
    properties: dict[str, Any] = dict(own) if isinstance(own, Mapping) else {}
    required = [name for name in schema.get("required") or () if isinstance(name, str)]
    alternatives: list[tuple[tuple[str, ...], ...]] = []
    additional = schema.get("additionalProperties")
    for part in schema.get("allOf") or ():
        inner = object_fields(part)
        additional = additional if inner.additional is None else inner.additional
        for name, sub in inner.properties.items():
            mine = properties.get(name)
            if isinstance(mine, Mapping) and isinstance(sub, Mapping):
                properties[name] = {**sub, **mine}
            elif mine is None:
                properties[name] = sub
        required += inner.required
        alternatives += inner.alternatives
    for keyword in _COMBINATORS[1:]:
        branches = [object_fields(branch) for branch in schema.get(keyword) or ()]
        if not branches:
            continue
        for branch in branches:
            for name, sub in branch.properties.items():
                properties.setdefault(name, sub)
        if len(branches) == 1 and branches[0].additional is not None:
            additional = branches[0].additional  # one branch: every instance meets it, as an allOf part
        common = [name for name in branches[0].required if all(name in b.required for b in branches)]
        required += common
        alternatives.append(tuple(tuple(n for n in b.required if n not in common) for b in branches))
    return ObjectFields(properties, tuple(dict.fromkeys(required)), tuple(alternatives), additional)


def merged_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """One object schema with what `object_fields` reads through `allOf` and `anyOf`/`oneOf`: every
    property, the required members and `additionalProperties` written on the schema itself. An
    `anyOf`/`oneOf` of several branches is kept, so the choice between them still holds."""
    fields = object_fields(schema)
    merged = {k: v for k, v in schema.items() if k not in (*_COMBINATORS, "discriminator")}
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key) or ()
        if len(branches) > 1:
            merged[key] = branches
    merged["properties"] = dict(fields.properties)
    merged["required"] = list(fields.required)
    if fields.additional is not None:
        merged["additionalProperties"] = fields.additional
    return merged


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


def leaves(document: Any, prefix: str = "", walk: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every non-object value of a JSON object by its pointer: `{"/a/b": 1}`. Arrays are leaves, but
    for those at a pointer in `walk`, whose items are walked too (`/errors` of JSON:API's bodies)."""
    if isinstance(document, list) and prefix in walk:
        items: Any = enumerate(document)
    elif isinstance(document, Mapping) and (document or not prefix):
        items = document.items()
    else:
        return {prefix: document}
    found: dict[str, Any] = {}
    for key, value in items:
        found.update(leaves(value, prefix + pointer_of(key), walk))
    return found


def pointer_set(document: dict[str, Any], pointer: str, value: Any) -> None:
    """Set the value at `pointer`, making the containers on the way: an array where the next token
    is an index (`/errors/0/detail` makes JSON:API's `errors` list), an object otherwise. The empty
    pointer replaces the whole document's members with those of `value`, an object."""
    parts = pointer_parts(pointer)
    if not parts:
        if not isinstance(value, Mapping):
            raise ValueError("the whole document can only be set to an object")
        document.clear()
        document.update(value)
        return
    node: Any = document
    for part, following in zip(parts, parts[1:], strict=False):
        slot = _slot(node, part)
        if not isinstance(node[slot] if isinstance(node, list) else node.get(slot), dict | list):
            node[slot] = [] if following.isdigit() else {}
        node = node[slot]
    node[_slot(node, parts[-1])] = value


def placed(document: dict[str, Any], pointer: str, value: Any) -> Any:
    """`document` with `value` set at `pointer`; at the empty pointer, `value` itself (a batch whose
    body is its array of items: `items_field: ""`)."""
    if not pointer:
        return value
    pointer_set(document, pointer, value)
    return document


def _slot(node: Any, part: str) -> Any:
    """The key of `part` in `node`: an index into an array (grown to reach it), else the name."""
    if isinstance(node, list):
        node.extend([None] * (int(part) + 1 - len(node)))
        return int(part)
    return part


# How x-ingest names a value from one of the operation's path parameters: OpenAPI's own runtime
# expression (as links and callbacks write it), `$request.path.identifier`.
PATH_EXPRESSION = "$request.path."


def field_pointer(name: str) -> str:
    """Where a field x-ingest names is: a pointer as written (`""` is the whole item), a path
    parameter's expression as written (`$request.path.id`, see `path_parameter`), a plain name
    its top-level member.

    `/context/traits` is inside the item; `userId` is `/userId`, so every spec written before
    pointers reads the same.
    """
    return name if not name or name.startswith(("/", PATH_EXPRESSION)) else pointer_of(name)


def path_parameter(location: str | None) -> str | None:
    """The path parameter a field's location names (`$request.path.id` is `id`); None for a body field."""
    return location[len(PATH_EXPRESSION) :] if location and location.startswith(PATH_EXPRESSION) else None


def item_get(item: Any, pointer: str, default: Any = None, path: Mapping[str, str] | None = None) -> Any:
    """The value at `pointer` in a JSON object, through objects only; `default` when a step is missing.
    A path parameter's location reads the request's `path` values instead (`default` without them)."""
    parameter = path_parameter(pointer)
    if parameter is not None:
        return (path or {}).get(parameter, default)
    node = item
    for part in pointer_parts(pointer):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def item_pop(item: Any, pointer: str) -> Any:
    """Remove the member at `pointer` of a JSON object (through objects only) and return its value;
    None when a step is missing."""
    *parents, last = pointer_parts(pointer) or ("",)
    holder = item_get(item, pointer_of(*parents))
    return holder.pop(last, None) if isinstance(holder, dict) else None


def member_schema(schema: Mapping[str, Any], pointer: str) -> Mapping[str, Any]:
    """The schema of the member at `pointer` of an instance of `schema`, each step read through
    `object_fields` (its parts' keywords together); empty (anything) when a step is not declared."""
    node: Any = schema
    for part in pointer_parts(pointer):
        node = object_fields(node).properties.get(part) if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping):
            return {}
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
    """The member schemas a schema declares, its allOf/oneOf/anyOf branches' included."""
    return dict(object_fields(schema).properties)


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
    return name in object_fields(schema).required


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
    """A named example value from the spec, and where its value is written (a JSON Pointer)."""

    name: str
    value: Any
    summary: str | None = None
    pointer: str = ""


@dataclass(frozen=True)
class PropertyExample:
    """An example given to a property of a component schema, with the property's schema and where
    the example is written (`/components/schemas/NAME/properties/PROP/examples/0`)."""

    component: str
    property: str
    schema: Mapping[str, Any]
    value: Any
    pointer: str


@dataclass(frozen=True)
class Link:
    """A response link: the response's status key (as written: `202`, `default`), the link's name
    and the `operationId` it names (None when it names its operation by `operationRef`)."""

    status: str
    name: str
    operation_id: Any


@dataclass(frozen=True)
class SecurityScheme:
    """How a request carries its API key, from `components.securitySchemes`.

    `kind` is `bearer` (HTTP bearer), `basic` (HTTP basic, the key as user name and any password,
    Segment's write key), `header`, `query` or `cookie` (`apiKey` with its `parameter` name); anything else is
    kept as `type/scheme` so lint can name what is not implemented. `oauth2` and `openIdConnect`
    schemes are bearer tokens (`token_of` names them): the token is checked against the configured
    keys, with no introspection. An apiKey's value may start with a scheme word and a space
    (`Authorization: Vendor-API-Key KEY`), given by the scheme's `x-ingest-prefix` extension.
    """

    name: str
    kind: str
    parameter: str | None = None
    token_of: str | None = None  # `oauth2` or `openIdConnect`: a token served as a bearer key
    prefix: str = ""  # the word before the key in an apiKey's value
    # Which part of HTTP basic credentials is the key (the scheme's `x-ingest-basic`): `user`,
    # `password` or `both` (the key is `user:password`, both parts checked); "" as before: the user
    # name, or the password when the user name is empty.
    basic_key: str = ""
    declared_type: str = ""  # the scheme's `type` as written (`apiKey`, `http`, `oauth2`...)
    # `x-ingest-prefix` as written (None: absent), for lint to judge; any YAML value, so not hashed.
    prefix_written: object = field(default=None, compare=False)
    description: str = field(default="", compare=False)

    @property
    def supported(self) -> bool:
        return self.kind in ("bearer", "basic", "header", "query", "cookie")


# A form-encoded request body (Mixpanel's `data=<base64 JSON>`): the JSON document travels in one
# field whose schema says `contentMediaType: application/json` (and `contentEncoding: base64`).
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class FormField:
    """The field of a form-encoded body that carries the JSON document, and whether it is base64."""

    name: str
    base64: bool = False


@dataclass(frozen=True)
class Parameter:
    """A documented path, query, header or cookie parameter."""

    name: str
    location: str
    required: bool
    schema: Mapping[str, Any]
    pointer: str = ""  # where it is written: on the operation, or on its path item
    has_schema: bool = True  # False when given by `content`, which the server does not read


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
    media_types: tuple[str, ...] = ()  # every one documented (`media_type` is the first)
    header_objects: Mapping[str, Any] = field(default_factory=dict)  # each header's object, resolved
    # `4XX`, `5XX` or `default` for a response documenting every status it covers (`status` is then 0).
    range: str | None = None

    @property
    def name(self) -> str:
        """The response's key in the responses object: `404`, `4XX`, `default`."""
        return self.range or str(self.status)


def documented(
    responses: Mapping[int, Response], ranges: Mapping[str, Response], status: int
) -> Response | None:
    """The response documenting `status`: its own, else its range (`4XX`), else `default` (as OpenAPI
    reads a responses object)."""
    own = responses.get(status) or ranges.get(f"{status // 100}XX")
    return own or ranges.get("default")


@dataclass(frozen=True)
class ResponseField:
    """One field of a success body: copied from the stored event (`source`) or a constant."""

    name: str
    source: str | None = None
    const: Any = None


@dataclass(frozen=True)
class ResponseShape:
    """How the server builds a success body from a stored event.

    A JSON object of `fields` (under `envelope`); or, where the API documents one, a constant `text`
    answered verbatim in the documented media type (`OK`, `1`); or no body at all (`kind` "empty":
    a 204, an empty 202).
    """

    status: int
    fields: tuple[ResponseField, ...]
    envelope: str | None = None
    header: str | None = None
    text: str | None = None
    has_body: bool = True

    @property
    def kind(self) -> str:
        """`json` (an object of `fields`), `text` (the constant `text`) or `empty` (no body)."""
        if self.text is not None:
            return "text"
        return "json" if self.has_body else "empty"

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

    @property
    def parameter(self) -> str | None:
        """The path parameter the contact is read from (`$request.path.id`); None for a body field."""
        return path_parameter(self.pointer)


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

    @property
    def in_body(self) -> tuple[IdentityField, ...]:
        """The fields a request body carries (not those read from a path parameter)."""
        return tuple(f for f in self.fields if f.parameter is None)

    @property
    def always_named(self) -> bool:
        """Whether every request names its contact: a field is read from a path parameter, which
        the route requires."""
        return len(self.in_body) < len(self.fields)


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
    `items_field` (`""`: the body is itself the array, as Mixpanel's `/import` sends it); an item
    that fails them gets its error body in its result, the others are stored
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

    def event_of(self, item: Mapping[str, Any], path: Mapping[str, str] | None = None) -> Any:
        return item_get(item, self.event, path=path) if self.event else self.event_name

    def identity_of(
        self, item: Mapping[str, Any], path: Mapping[str, str] | None = None
    ) -> tuple[IdentityField, Any] | None:
        """The identity field that names the contact and its value; null is absent. None: none does.
        `path`: the request's path parameters, for fields read from one."""
        fields = self.identity.fields
        present = [(f, v) for f in fields if (v := item_get(item, f.pointer, path=path)) is not None]
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
    project: str | None = None  # the JSON Pointer of the item's field naming its project (keyless)

    def kind_of(self, item: Mapping[str, Any]) -> ItemKind | None:
        """The kind an item is of (the only one without a discriminator); None for an unknown value."""
        if self.discriminator is None:
            return self.kinds[0]
        value = item_get(item, self.discriminator)
        return next((k for k in self.kinds if k.value == value), None)

    def read(self, item: Mapping[str, Any], path: Mapping[str, str] | None = None) -> ReadEvent | None:
        """The event an item makes, as the server reads it (before its checks); None: no known kind.
        `path`: the request's path parameters by name, for the fields read from one."""
        kind = self.kind_of(item)
        if kind is None:
            return None
        payload = item_get(item, kind.payload.pointer, {})
        return ReadEvent(
            kind,
            kind.event_of(item, path),
            kind.identity_of(item, path),
            payload,
            item_get(item, self.occurred_at, path=path),
        )

    def from_path(self) -> list[tuple[str, str, ItemKind | None]]:
        """The fields read from a path parameter rather than the item: (where in x-ingest, the
        parameter's name, its kind), as `locations` lists them."""
        found = []
        for where, location, kind in self.locations():
            parameter = path_parameter(location)
            if parameter is not None:
                found.append((where, parameter, kind))
        return found

    def locations(self) -> list[tuple[str, str, ItemKind | None]]:
        """Every field the rules read from an item: (where in x-ingest, its JSON Pointer or path
        parameter expression, its kind).

        Kind-free fields (occurred_at, dedupe key, discriminator, project) come with kind None; the credential
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
        if self.project:
            found.append(("/project_field", self.project, None))
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
    default: bool = False  # filled in from the catalogue defaults, the block does not list it


@dataclass(frozen=True)
class DetailItem:
    """The names of a detail item's two members: where the failure is (a JSON Pointer) and what it is."""

    path: str = "path"
    message: str = "message"


@dataclass(frozen=True)
class ErrorEnvelope:
    """The API's error body and the catalogue of failures it is used for.

    Every member is located by a JSON Pointer, so a flat body (`/detail`), a nested one
    (`/error/message`) and one inside an array (JSON:API's `/errors/0/detail`) are said the same way.
    A catalogue entry's `fields` are keyed by pointer too. A text envelope (`text/plain`) has no
    members: its body is the message.
    """

    media_type: str
    message_pointer: str
    catalogue: Mapping[str, ErrorEntry]
    status_pointer: str | None = None
    details_pointer: str | None = None
    detail_item: DetailItem = field(default_factory=DetailItem)
    path_pointer: str | None = None  # where the first failing value's JSON Pointer goes
    status_as_text: bool = False  # the repeated status is a string ("400"), as JSON:API writes it
    # Statuses answered in this envelope that the file documents no response for (x-ingest
    # `errors.undocumented`): lint warns of each, the contract suite accepts them for those errors only.
    undocumented: tuple[int, ...] = ()

    @property
    def text(self) -> bool:
        """Whether the body is the message as text rather than a JSON document."""
        return self.media_type.partition(";")[0].strip().lower().startswith("text/")

    def status_value(self, entry: ErrorEntry) -> int | str:
        """The status as the body repeats it."""
        return str(entry.status) if self.status_as_text else entry.status

    def render(
        self,
        key: str,
        params: Mapping[str, object] | None = None,
        details: list[dict[str, str]] | None = None,
    ) -> Any:
        """The body for a catalogue entry (a JSON object, or the message for a text envelope);
        `details` items are `{"path", "message"}` dicts."""
        entry = self.catalogue[key]
        message = format_message(entry.message, params or {})
        if self.text:
            return message
        body: dict[str, Any] = {}
        if self.status_pointer:
            pointer_set(body, self.status_pointer, self.status_value(entry))
        for pointer, value in entry.fields.items():
            pointer_set(body, pointer, value)
        pointer_set(body, self.message_pointer, message)
        if details and self.details_pointer:
            item = self.detail_item
            pointer_set(
                body,
                self.details_pointer,
                [{item.path: d["path"], item.message: d["message"]} for d in details],
            )
        if details and self.path_pointer:
            pointer_set(body, self.path_pointer, details[0]["path"])
        return body

    def message_of(self, body: Any) -> Any:
        return body if self.text else pointer_get(body, self.message_pointer)

    def status_of(self, body: Any) -> Any:
        return pointer_get(body, self.status_pointer) if self.status_pointer else None

    def said_status(self, body: Any) -> int | None:
        """The status an error body repeats, if it repeats one (`"422"` read as 422)."""
        said = self.status_of(body) if not self.text and isinstance(body, Mapping) else None
        if isinstance(said, bool) or not isinstance(said, int | str) or not str(said).isdigit():
            return None
        return int(said)

    def details_of(self, body: Any) -> Any:
        return pointer_get(body, self.details_pointer) if self.details_pointer else None

    def optional(self) -> tuple[str, ...]:
        """The pointers a body has only when the failure names failing values."""
        return tuple(p for p in (self.details_pointer, self.path_pointer) if p)

    def arrays(self) -> frozenset[str]:
        """The pointers of the arrays the envelope's members sit in (`/errors` for `/errors/0/detail`)."""
        found = set()
        constants = (p for entry in self.catalogue.values() for p in entry.fields)
        placed = (self.message_pointer, self.status_pointer, self.path_pointer, self.details_pointer)
        for pointer in (*placed, *constants):
            parts = pointer_parts(pointer or "")
            found |= {pointer_of(*parts[:i]) for i, part in enumerate(parts) if i and part.isdigit()}
        return frozenset(found)

    def pointers(self, key: str) -> set[str]:
        """Every pointer a body for `key` may set: the envelope's members and the entry's constants."""
        found = {self.message_pointer, *self.catalogue[key].fields}
        found |= {p for p in (self.status_pointer, self.details_pointer, self.path_pointer) if p}
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
    # Keyless collectors (Mixpanel's /track): no credential; this field of each item (a name or a JSON
    # Pointer, `/properties/token`) holds a public token the configuration maps to a project. Every
    # item of one request names the same project; the token is stored with the item (not a secret).
    project_field: str | None = None
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
            project=field_pointer(self.project_field) if self.project_field else None,
            dedupe_key=field_pointer(key) if key else None,
            items=field_pointer(self.batch.items_field) if self.batch else None,
        )

    def event_of(self, body: Mapping[str, Any], path: Mapping[str, str] | None = None) -> Any:
        """The event name a request body names (the operation's constant name when it has one)."""
        read = self.items.read(body, path)
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
    # The entry a block that leaves the step's error out of its catalogue gets: (status, message).
    default: tuple[int, str] | None = None
    # The key a block that names no error for the step uses (`payload_limit` without `error`); a key
    # the block names itself must be in its catalogue.
    default_key: str | None = None

    def defaults(self, ingest: Ingest) -> bool:
        """Whether the step's error, when the catalogue lacks it, gets the default entry."""
        key = self.error(ingest)
        return self.default is not None and key is not None and key in (self.fixed_key, self.default_key)


def _fixed(key: str) -> Callable[[Ingest], str | None]:
    return lambda ingest: key


STEPS: tuple[Step, ...] = (
    Step(
        "authenticate",
        "request",
        _fixed("unauthorized"),
        "missing_api_key",
        "unauthorized",
        (401, "The API key is missing or not valid."),
    ),
    Step(
        "rate_limit",
        "request",
        lambda i: i.rate_limit.error if i.rate_limit else None,
        "rate_limited",
        default=(429, "Too many requests: retry in {retry_after} seconds."),
        default_key="rate_limited",
    ),
    Step(
        "media_type",
        "request",
        _fixed("unsupported_media_type"),
        "wrong_content_type",
        "unsupported_media_type",
        (415, "The request's Content-Type is not one this operation accepts."),
    ),
    Step(
        "size",
        "request",
        lambda i: i.payload_limit.error,
        "oversize_body",
        default=(413, "The request body is larger than {limit} bytes."),
        default_key="payload_too_large",
    ),
    Step(
        "json",
        "request",
        _fixed("malformed_json"),
        "malformed_json",
        "malformed_json",
        (400, "The request body is not valid JSON."),
    ),
    Step(
        "identity_missing",
        "request",
        lambda i: i.identity.missing_error,
        "missing_identity",
        default=(400, "The request names no contact: send one of the identity fields."),
        default_key="identity_missing",
    ),
    Step(
        "identity_conflict",
        "request",
        lambda i: i.identity.conflict_error,
        "identity_conflict",
        default=(400, "The request names more than one contact: send only one of the identity fields."),
        default_key="identity_conflict",
    ),
    Step(
        "envelope",
        "request",
        _fixed("invalid_request"),
        "invalid_envelope",
        "invalid_request",
        (400, "The request does not match the documented schema."),
    ),
    Step(
        "reserved",
        "request",
        lambda i: i.reserved.error if i.reserved else None,
        "reserved_prefix",
        default=(400, "Event names starting with {prefix} are reserved."),
        default_key="reserved_prefix",
    ),
    Step(
        "undefined_event",
        "request",
        lambda i: i.payload.undefined_event_error,
        "undefined_event",
        default=(422, 'No event named "{event}" is defined for this project.'),
        default_key="undefined_event",
    ),
    Step(
        "payload",
        "request",
        lambda i: i.payload.mismatch_error,
        "payload_schema_mismatch",
        default=(422, 'The payload does not match the definition of "{event}".'),
        default_key="payload_invalid",
    ),
    Step(
        "idempotency_mismatch",
        "request",
        lambda i: i.dedupe.mismatch_error if i.dedupe else None,
        "reused_key_different_body",
    ),
    Step(
        "store",
        "server",
        _fixed("storage_unavailable"),
        None,
        "storage_unavailable",
        (503, "The event could not be stored and nothing was accepted; retry later."),
    ),
    Step(
        "route",
        "routing",
        _fixed("route_not_found"),
        "unknown_route",
        "route_not_found",
        (404, "No operation is documented at this path."),
    ),
    Step(
        "method",
        "routing",
        _fixed("method_not_allowed"),
        "method_not_allowed",
        "method_not_allowed",
        (405, "This path does not take this HTTP method."),
    ),
)
# The connection's own limits (SERVER_ERRORS): answered in the envelope when the catalogue has them,
# which a block leaving them out gets only if the operation documents their status.
CONNECTION_DEFAULTS: dict[str, tuple[int, str]] = {
    "request_timeout": (408, "The request was not received in time."),
    "headers_too_large": (431, "The request headers are too large."),
}


def default_key(step: str) -> str:
    """The catalogue key a block that names no error for `step` uses."""
    key = next(s.default_key for s in STEPS if s.name == step)
    assert key is not None, step
    return key


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
    # Responses documenting a range of statuses, by their key (`4XX`, `5XX`, `default`).
    ranges: Mapping[str, Response] = field(default_factory=dict)
    # A form-encoded request media type, and the field carrying the JSON document; `request_schema`
    # is then that document's schema (the field's `contentSchema`, or the JSON media type's schema).
    form: FormField | None = None
    form_schema: Mapping[str, Any] | None = None  # the form media type's own schema, when one is declared
    # Where the operation's security requirements are written: on it, or the document's.
    security_pointer: str = "/security"
    # What the server does not serve, kept so lint can refuse it where it is written: callback names,
    # the pointers of `servers` on the path item or the operation, the links of its responses.
    callbacks: tuple[str, ...] = ()
    servers: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()

    def response(self, status: int) -> Response | None:
        return self.responses.get(status)

    def documented(self, status: int) -> Response | None:
        """The response documenting `status`, its own or a range's (`documented`)."""
        return documented(self.responses, self.ranges, status)

    @property
    def request_media_type(self) -> str:
        """The first documented request media type, the one clients are shown first."""
        return self.request_media_types[0]

    @property
    def content_coding_parameter(self) -> Parameter | None:
        """The documented `Content-Encoding` header parameter, which names the codings accepted."""
        return next(
            (p for p in self.parameters if p.location == "header" and p.name.lower() == CONTENT_ENCODING),
            None,
        )

    @property
    def content_codings(self) -> tuple[str, ...]:
        """The codings a request body may be sent in besides `identity`: the `enum` of the
        `Content-Encoding` header parameter, lower case (lint refuses any the server cannot decode)."""
        parameter = self.content_coding_parameter
        values = parameter.schema.get("enum") if parameter else None
        names = (str(v).lower() for v in values or ())
        return tuple(dict.fromkeys(n for n in names if n != "identity"))

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
    # What reading an OpenAPI 3.0 file as 3.1 moved: a pointer of `document` -> where the file has it.
    moved: Mapping[str, str] = field(default_factory=dict)
    webhooks: tuple[str, ...] = ()  # names, which the server does not serve
    property_examples: tuple[PropertyExample, ...] = ()
    security_schemes: tuple[SecurityScheme, ...] = ()  # every declared scheme, in the file's order

    def source_pointer(self, pointer: str) -> str:
        """Where the user's file holds what `pointer` names in `document` (they differ only where a
        3.0 file was upgraded: `nullable` became a type, a schema's `example` its `examples`)."""
        moves = [new for new in self.moved if pointer == new or pointer.startswith(new + "/")]
        if not moves:
            return pointer
        nearest = max(moves, key=len)  # each move is recorded in the file's own places
        return self.moved[nearest] + pointer[len(nearest) :]

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
