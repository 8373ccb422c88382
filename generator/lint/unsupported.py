"""What a spec declares that the generated server does not implement: lint refuses it, never ignores it.

Each rule is a function from the loaded spec to findings, `(pointer, message)` pairs naming the
place in the document, registered by `@rule` (`rules.py`); lint locates the pointers in the file. A
rule says what is unsupported and, where there is one, what the spec could say instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..generate.samples import success_body
from ..spec.model import (
    BASIC_KEY,
    BASIC_KEY_PARTS,
    CONTENT_CODINGS,
    FORM_MEDIA_TYPE,
    Ingest,
    Operation,
    ResponseShape,
    SecurityScheme,
    Spec,
    escape,
    path_parameter,
    pointer_of,
    required_at,
    schema_types,
    schemas_at,
)
from .rules import Finding, rule
from .suggest import did_you_mean
from .validate import is_json, validator

__all__: list[str] = []

_SUPPORTED_SECURITY = (
    "http bearer, http basic, apiKey in a header, the query or a cookie, oauth2 and openIdConnect as "
    "bearer tokens"
)
_IDENTITY_TYPES = {"string", "integer", "number"}
# Where x-ingest may read a value from a path parameter: the event name and identity fields.
_PATH_ROLES = re.compile(r"/event_field$|/identity/fields/\d+/name$")


@rule()
def security_scheme_types(spec: Spec) -> Iterator[Finding]:
    """Every security scheme is declared and is one the server implements (bearer, basic, apiKey)."""
    reported: set[str] = set()
    for op in spec.operations:
        for index, alternative in enumerate(op.security):
            for scheme in alternative:
                if scheme.supported or scheme.name in reported:
                    continue
                reported.add(scheme.name)
                if scheme.kind == "undeclared":
                    yield (
                        _requirement(op, index) + "/" + escape(scheme.name),
                        f"security requirement names scheme {scheme.name!r}, "
                        "which components.securitySchemes does not declare"
                        + did_you_mean(scheme.name, [s.name for s in spec.security_schemes]),
                    )
                else:
                    yield (
                        pointer_of("components", "securitySchemes", scheme.name),
                        f"security scheme {scheme.name!r} is {_describe(scheme)}, which the generated "
                        f"server does not implement (it implements {_SUPPORTED_SECURITY})",
                    )


@rule(severity="warning")
def tokens_are_keys(spec: Spec) -> Iterator[Finding]:
    """oauth2 and openIdConnect schemes are served as bearer tokens checked against the configured keys."""
    for scheme in dict.fromkeys(s for op in spec.operations for s in op.schemes):
        if scheme.token_of:
            yield (
                pointer_of("components", "securitySchemes", scheme.name),
                f"security scheme {scheme.name!r} is {scheme.token_of}: the server takes its bearer token "
                "as an API key of the configuration (no token introspection, no scopes or flows); issue "
                "tokens that are configured keys",
            )


@rule()
def api_key_prefixes(spec: Spec) -> Iterator[Finding]:
    """x-ingest-prefix is on an apiKey scheme and is one word (the key follows it after a space)."""
    for scheme in spec.security_schemes:
        name, prefix = scheme.name, scheme.prefix_written
        if prefix is None:
            continue
        where = pointer_of("components", "securitySchemes", name, "x-ingest-prefix")
        if scheme.declared_type != "apiKey":
            yield where, f"security scheme {name!r}: x-ingest-prefix is for apiKey schemes only"
        elif not isinstance(prefix, str) or not prefix or not all(33 <= ord(c) <= 126 for c in prefix):
            yield (
                where,
                f"security scheme {name!r}: x-ingest-prefix must be one word of printable characters "
                f"(the key follows it after a space), not {prefix!r}",
            )


@rule()
def basic_key_parts(spec: Spec) -> Iterator[Finding]:
    """A security scheme's `x-ingest-basic` is on an HTTP basic scheme and names user, password or both."""
    for op in spec.operations:
        for scheme in op.schemes:
            if not scheme.basic_key:
                continue
            where = pointer_of("components", "securitySchemes", scheme.name, BASIC_KEY)
            if scheme.kind != "basic":
                yield (
                    where,
                    f"security scheme {scheme.name!r}: {BASIC_KEY} is only read on an HTTP basic scheme",
                )
            elif scheme.basic_key not in BASIC_KEY_PARTS:
                yield (
                    where,
                    f"security scheme {scheme.name!r}: {BASIC_KEY} is {scheme.basic_key!r}, not one of "
                    + ", ".join(BASIC_KEY_PARTS),
                )


@rule()
def security_requirements_of_one_scheme(spec: Spec) -> Iterator[Finding]:
    """Each security requirement names one scheme (alternatives, not combinations)."""
    for op in spec.operations:
        for index, alternative in enumerate(op.security):
            if len(alternative) > 1:
                names = ", ".join(s.name for s in alternative)
                yield (
                    _requirement(op, index),
                    f"{op.operation_id}: a security requirement combining several schemes ({names}) "
                    "is not implemented; list them as alternatives (one per requirement object)",
                )


@rule()
def ingest_needs_a_key(spec: Spec) -> Iterator[Finding]:
    """Every ingest operation names its project one way: by a security requirement's key, by x-ingest
    credential_field (a key in the body) or by project_field (a keyless collector's public token)."""
    for op in spec.ingest_operations:
        ingest = op.ingest
        assert ingest is not None
        # An empty requirement (`security: [{}]`) names no scheme: the body's field is the only way.
        ways = [f"x-ingest {name}" for name in ("credential_field", "project_field") if getattr(ingest, name)]
        ways += [f"security scheme {', '.join(repr(s.name) for s in op.schemes)}"] if op.schemes else []
        if len(ways) > 1:
            yield (
                _x(op, "project_field" if ingest.project_field else "credential_field"),
                f"{op.operation_id}: the key is declared twice, by {' and by '.join(ways)}; "
                "keep one (an empty security requirement `{}` names no scheme)",
            )
        elif not ways or (op.schemes and not op.secured):
            where = op.security_pointer if op.security else op.pointer
            yield (
                where,
                f"{op.operation_id}: an ingest operation needs an API key on every request (it scopes "
                "the event to a project); declare a security requirement without an empty alternative, "
                "x-ingest credential_field (a key in the body) or, for a keyless collector, x-ingest "
                "project_field (the item's field holding a public project token)",
            )


@rule()
def json_request_bodies(spec: Spec) -> Iterator[Finding]:
    """Ingest request bodies are named JSON media types, or a form whose one field carries the JSON."""
    for op in spec.ingest_operations:
        for media_type in op.request_media_types:
            where = f"{op.pointer}/requestBody/content/{escape(media_type)}"
            if "*" in media_type:
                yield (
                    where,
                    f"{op.operation_id}: request media type range {media_type!r} is not implemented "
                    "(name each JSON media type the operation takes)",
                )
            elif media_type.lower() == FORM_MEDIA_TYPE:
                yield from _form_problems(op, where)
            elif not is_json(media_type):
                yield (
                    where,
                    f"{op.operation_id}: request media type {media_type!r} is not implemented "
                    f"(only application/json, +json types and {FORM_MEDIA_TYPE} carrying JSON are)",
                )


def _form_problems(op: Operation, where: str) -> Iterator[Finding]:
    """What keeps a form-encoded body from being read as the JSON document one of its fields carries."""
    properties = (op.form_schema or {}).get("properties") or {}
    carriers = [n for n, p in properties.items() if isinstance(p, Mapping) and "contentMediaType" in p]
    if op.form is None or len(carriers) != 1:
        yield (
            where,
            f"{op.operation_id}: a {FORM_MEDIA_TYPE} body is read only as one field carrying JSON: "
            "give exactly one property `contentMediaType: application/json` and its `contentSchema`",
        )
        return
    field = properties[op.form.name]
    inner = f"{where}/schema/properties/{escape(op.form.name)}"
    encoding = field.get("contentEncoding")
    if encoding not in (None, "base64"):
        yield (
            inner + "/contentEncoding",
            f"{op.operation_id}: contentEncoding {encoding!r} is not implemented (base64 is)",
        )
    others = [t for t in op.request_media_types if t.lower() != FORM_MEDIA_TYPE]
    if "contentSchema" not in field and not others:
        yield (
            inner,
            f"{op.operation_id}: the form field {op.form.name!r} needs a `contentSchema` (its JSON's)",
        )
    elif "contentSchema" in field and others and field["contentSchema"] != dict(op.request_schema):
        yield (
            inner + "/contentSchema",
            f"{op.operation_id}: the form field's contentSchema differs from the {others[0]} schema: "
            "the server reads one document either way",
        )


@rule()
def no_callbacks(spec: Spec) -> Iterator[Finding]:
    """Callbacks are not implemented."""
    for op in spec.operations:
        if op.callbacks:
            yield op.pointer + "/callbacks", f"{op.operation_id}: callbacks are not implemented"


@rule()
def no_webhooks(spec: Spec) -> Iterator[Finding]:
    """Webhooks are not implemented."""
    for name in spec.webhooks:
        yield pointer_of("webhooks", name), f"webhook {name!r}: webhooks are not implemented"


@rule()
def plain_parameters(spec: Spec) -> Iterator[Finding]:
    """Parameters are path, query or header scalars given by `schema`, path ones in the path."""
    for op in spec.operations:
        for parameter in op.parameters:
            where = parameter.pointer or op.pointer
            if parameter.location == "cookie":
                yield where, f"{op.operation_id}: cookie parameter {parameter.name!r} is not implemented"
            elif not parameter.has_schema:
                yield (
                    where,
                    f"{op.operation_id}: {parameter.location} parameter {parameter.name!r} has no `schema` "
                    "(parameters given by `content` are not implemented)",
                )
            elif parameter.location == "path" and "{" + parameter.name + "}" not in op.path:
                yield (
                    where,
                    f"{op.operation_id}: path parameter {parameter.name!r} is not in the path {op.path}",
                )
            elif schema_types(parameter.schema) & {"array", "object"}:
                yield (
                    where,
                    f"{op.operation_id}: {parameter.location} parameter {parameter.name!r} is an "
                    "array or object, which is not implemented (only strings, numbers and booleans)",
                )


@rule()
def content_codings_are_served(spec: Spec) -> Iterator[Finding]:
    """A `Content-Encoding` header parameter lists, in an optional `enum`, codings the server decodes."""
    for op in spec.operations:
        parameter = op.content_coding_parameter
        if parameter is None:
            continue
        where = parameter.pointer or op.pointer
        values = parameter.schema.get("enum")
        known = ", ".join(("identity", *CONTENT_CODINGS))
        if op.ingest is None:
            yield where, f"{op.operation_id}: Content-Encoding is only decoded on an ingest operation's body"
        elif not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            yield (
                where,
                f"{op.operation_id}: Content-Encoding needs an `enum` of the codings accepted (of {known})",
            )
        elif parameter.required:
            yield (
                where,
                f"{op.operation_id}: a required Content-Encoding is not implemented "
                "(a body sent as is is always accepted)",
            )
        else:
            for index, value in enumerate(values):
                if value.lower() not in ("identity", *CONTENT_CODINGS):
                    yield (
                        f"{where}/schema/enum/{index}",
                        f"{op.operation_id}: content coding {value!r} is not implemented (only {known})",
                    )


@rule(severity="warning")
def request_body_is_optional(spec: Spec) -> Iterator[Finding]:
    """An ingest request body not `required: true`: a request without one is refused as malformed JSON."""
    for op in spec.ingest_operations:
        assert op.ingest is not None
        if not op.request_required:
            entry = op.ingest.errors.catalogue["malformed_json"]
            yield (
                op.pointer + "/requestBody",
                f"{op.operation_id}: the request body is not `required: true`; a request without one "
                f"is answered 'malformed_json' ({entry.status}), as there is no event to store",
            )


@rule()
def ingest_requests_carry_their_event(spec: Spec) -> Iterator[Finding]:
    """Ingest request bodies name their event (the server refuses them otherwise)."""
    for op in spec.ingest_operations:
        assert op.ingest is not None
        where = "batch item" if op.ingest.batch else "request"
        for kind in op.ingest.items.kinds:
            schema = op.kind_schema(kind)
            # A field the schema lacks is named_fields_exist's finding; one it leaves optional would
            # let an item without a name pass its schema and then be refused by the server.
            if kind.event and schemas_at(schema, kind.event) and not required_at(schema, kind.event):
                of = f" of a {kind.value!r} item" if kind.value is not None else ""
                yield (
                    op.pointer + "/x-ingest" + kind.at("event") + "/event_field",
                    f"{op.operation_id}: event field {kind.event_field!r}{of} must be in the {where} "
                    "schema's `required` (the server refuses an event without a name)",
                )


@rule()
def every_operation_ingests(spec: Spec) -> Iterator[Finding]:
    """Every operation is an x-ingest or x-ingest-read operation."""
    for op in spec.operations:
        if op.ingest is None and op.read is None:
            yield (
                op.pointer,
                f"{op.operation_id} ({op.method} {op.path}) has neither x-ingest nor x-ingest-read: "
                "other operations are not implemented",
            )


@rule()
def read_operations_are_served(spec: Spec) -> Iterator[Finding]:
    """Read operations are keyed GETs of an id path parameter, answering a documented JSON body."""
    first = next(iter(spec.ingest_operations), None)
    for op in spec.read_operations:
        read = op.read
        assert read is not None
        where = op.pointer + "/x-ingest-read"
        if first is None or first.ingest is None:
            message = "a read operation needs an x-ingest operation (its errors and events)"
            yield where, f"{op.operation_id}: {message}"
            continue
        if op.ingest is not None:
            yield where, f"{op.operation_id}: an operation is either x-ingest or x-ingest-read, not both"
        if not any(p.location == "path" and p.name == read.id_parameter for p in op.parameters):
            yield (
                where + "/id_parameter",
                f"{op.operation_id}: id_parameter {read.id_parameter!r} is not a path parameter of the "
                "operation"
                + did_you_mean(read.id_parameter, [p.name for p in op.parameters if p.location == "path"]),
            )
        if read.not_found_error not in first.ingest.errors.catalogue:
            yield (
                where + "/not_found_error",
                f"{op.operation_id}: not_found_error {read.not_found_error!r} is not in the errors catalogue "
                f"of the ingest operations ({first.operation_id})"
                + did_you_mean(read.not_found_error, first.ingest.errors.catalogue),
            )
        if not op.secured:
            yield (
                op.pointer,
                f"{op.operation_id}: a read operation needs an API key on every request (it reads only "
                "its key's project); declare a security requirement without an empty alternative",
            )
        if op.method != "GET":
            yield where, f"{op.operation_id}: a read operation is a GET, not {op.method}"
        catalogue = first.ingest.errors.catalogue
        for key in ("unauthorized", read.not_found_error):
            if key in catalogue and op.documented(catalogue[key].status) is None:
                yield (
                    op.pointer + "/responses",
                    f"{op.operation_id}: the read answers {key} with {catalogue[key].status}, which its "
                    "responses do not document",
                )
        response = op.responses.get(read.response.status)
        if response is None or response.media_type is None or not is_json(response.media_type):
            yield (
                where + "/response/status",
                f"{op.operation_id}: x-ingest-read answers {read.response.status} with a JSON body, which "
                "the operation's responses must document",
            )
        elif response.schema:
            yield from _read_answers_match(spec, op, response.schema)


@rule()
def batches_are_served(spec: Spec) -> Iterator[Finding]:
    """A batch's response, dedupe key and result shape are ones the server can answer."""
    for op in spec.ingest_operations:
        batch = op.ingest.batch if op.ingest else None
        if op.ingest is None or batch is None:
            continue
        if not batch.response.status:
            yield (
                _x(op, "batch", "response"),
                f"{op.operation_id}: the batch response needs a status (the answer's, whatever its items')",
            )
        if op.ingest.dedupe and op.ingest.dedupe.key.location != "body":
            yield (
                _x(op, "dedupe", "key"),
                f"{op.operation_id}: a batch's idempotency key must be a field of its items, not a "
                f"{op.ingest.dedupe.key.location} parameter that every item would share",
            )
        if not batch.names_refusals and batch.acceptance != "all_or_nothing":
            yield (
                _x(op, "batch"),
                f"{op.operation_id}: the batch answer cannot say which items were refused (it has no "
                "`results`), so answering it would acknowledge items that were not stored: set "
                "`acceptance: all_or_nothing` (a refused item refuses the whole batch) or answer `results`",
            )
        answer = _batch_answer(op.ingest)
        response = op.responses.get(batch.response.status)
        if response is not None and response.schema and batch.acceptance != "all_or_nothing":
            error = next(validator(response.schema).iter_errors(answer), None)
            if error is not None:
                yield (
                    _x(op, "batch", "response"),
                    f"{op.operation_id}: the {batch.response.status} body the server answers a batch with "
                    f"(here one refused item) cannot match the documented schema: at "
                    f"{pointer_of(*error.absolute_path) or '/'}: {error.message}",
                )
        if batch.result is None and any(f.source == "results" for f in batch.response.fields):
            yield (
                _x(op, "batch", "response"),
                f"{op.operation_id}: the batch response answers results, so batch needs a result shape",
            )


def _read_answers_match(spec: Spec, op: Operation, schema: Mapping[str, Any]) -> Iterator[Finding]:
    """The read's answer for an event of each ingest operation and identity must match its schema."""
    read = op.read
    assert read is not None
    check = validator(schema)
    extra = {"payload": {}, "processing_status": "pending"}
    for source in spec.ingest_operations:
        assert source.ingest is not None
        for field in source.ingest.identity.fields:
            body = success_body(source, read.response, field, schema, extra)
            error = next(check.iter_errors(body), None)
            if error is not None:
                yield (
                    op.pointer + "/x-ingest-read/response",
                    f"{op.operation_id}: the {read.response.status} body the server answers for an event of "
                    f"{source.operation_id} with identity {field.kind!r} cannot match the documented schema: "
                    f"at {pointer_of(*error.absolute_path) or '/'}: {error.message}",
                )
                return


# The stored event's values, which a refused batch item has none of.
_EVENT_SOURCES = ("id", "event", "occurred_at", "received_at", "identity_type", "identity_value")


def _batch_answer(ingest: Ingest) -> dict[str, Any]:
    """The answer to a batch of one item refused as invalid_request, as the server renders it."""
    batch = ingest.batch
    assert batch is not None
    empty = dict.fromkeys(_EVENT_SOURCES)
    error = ingest.errors.render("invalid_request")
    refused = {
        **empty,
        "index": 0,
        "status": ingest.errors.catalogue["invalid_request"].status,
        "error": error,
    }
    results = [batch.result.render(refused)] if batch.result else []
    return batch.response.render({**empty, "accepted": 0, "rejected": 1, "results": results})


# What every ingest operation of a spec must say alike: the server has one error envelope (routing
# errors such as 404 and 405 belong to no operation), one configuration with its defaults, one
# processing worker and one kind of event id.
_SHARED_SETTINGS: dict[str, Callable[[Ingest], object]] = {
    "errors": lambda i: i.errors,
    "payload_limit": lambda i: i.payload_limit,
    "retention": lambda i: i.retention_days,
    "processing": lambda i: i.processing,
    "id_format": lambda i: i.id_format,
    "id_prefix": lambda i: i.id_prefix,
}


@rule()
def ingest_operations_share_settings(spec: Spec) -> Iterator[Finding]:
    """Every ingest operation of a spec shares its errors, limits, retention, processing and ids."""
    first, *others = spec.ingest_operations or (None,)
    for op in others:
        assert first is not None and first.ingest is not None and op.ingest is not None
        for name, value in _SHARED_SETTINGS.items():
            if value(op.ingest) != value(first.ingest):
                yield (
                    _x(op, name),
                    f"{op.operation_id}: x-ingest {name} differs from {first.operation_id}'s; every ingest "
                    "operation of a spec must share it (one server answers routing errors such as 404 "
                    "and 405, and has one configuration, worker and id format)",
                )
    with_dedupe = [op for op in spec.ingest_operations if op.ingest and op.ingest.dedupe]
    for op in with_dedupe[1:]:
        assert op.ingest and op.ingest.dedupe and with_dedupe[0].ingest and with_dedupe[0].ingest.dedupe
        if op.ingest.dedupe.on_body_mismatch != with_dedupe[0].ingest.dedupe.on_body_mismatch:
            yield (
                _x(op, "dedupe", "on_body_mismatch"),
                f"{op.operation_id}: dedupe on_body_mismatch differs from {with_dedupe[0].operation_id}'s; "
                "it is the default of the one configuration every operation shares",
            )


@rule()
def documented_errors_are_produced(spec: Spec) -> Iterator[Finding]:
    """Every documented error status is one the server answers, or is marked x-ingest documented_only."""
    for op in spec.ingest_operations:
        assert op.ingest is not None
        catalogue = op.ingest.errors.catalogue
        produced = {catalogue[key].status for key in op.ingest.used_errors() + op.ingest.server_errors()}
        produced.add(catalogue["method_not_allowed"].status)  # a documented path with another method
        for status in op.responses:
            if status >= 400 and status not in produced and status not in op.ingest.documented_only:
                yield (
                    f"{op.pointer}/responses/{status}",
                    f"{op.operation_id}: {status} is documented but the server never answers it "
                    f"(no catalogue error the behaviour uses has status {status}"
                    + ("; a 429 needs x-ingest rate_limit" if status == 429 else "")
                    + "; if something in front of the server answers it, list it in x-ingest "
                    "documented_only)",
                )


@rule()
def identity_field_types(spec: Spec) -> Iterator[Finding]:
    """Identity fields are typed string, integer or number (and may admit null, which is absent)."""
    for op in spec.ingest_operations:
        assert op.ingest is not None
        seen = set()
        for kind in op.ingest.items.kinds:
            for index, field in enumerate(kind.identity.fields):
                at = (
                    op.pointer
                    + "/x-ingest"
                    + kind.at("identity")
                    + pointer_of("identity", "fields", index, "name")
                )
                parameter = path_parameter(field.pointer)
                schemas = (
                    [p.schema for p in op.parameters if p.location == "path" and p.name == parameter]
                    if parameter is not None
                    else schemas_at(op.kind_schema(kind), field.pointer)
                )
                if not schemas or at in seen:
                    continue  # lint's field check names a missing one; a shared rule is said once
                types = schema_types(schemas[0])
                if not types - {"null"} or not types - {"null"} <= _IDENTITY_TYPES:
                    seen.add(at)
                    yield (
                        at,
                        f"{op.operation_id}: identity field {field.name!r} must be typed string, integer "
                        f"or number, not {_type_text(types)}",
                    )


@rule()
def path_values_where_served(spec: Spec) -> Iterator[Finding]:
    """Only the event name and identity fields are read from a path parameter (`$request.path.name`),
    and such an identity comes first under first_present (else its value could go unstored)."""
    for op in spec.ingest_operations:
        assert op.ingest is not None
        rules = op.ingest.items
        for kind in rules.kinds:
            identity = kind.identity
            later = [i for i, f in enumerate(identity.fields) if f.parameter is not None and i > 0]
            if identity.mode == "first_present" and later:
                yield (
                    op.pointer + "/x-ingest" + kind.at("identity") + f"/identity/fields/{later[0]}/name",
                    f"{op.operation_id}: an identity read from a path parameter is always present: under "
                    "first_present it comes first (a body field before it would leave the path's value "
                    "stored nowhere)",
                )
        named: list[tuple[str, str | None]] = [(where, location) for where, location, _ in rules.locations()]
        named += [("/credential_field", rules.credential), ("/batch/items_field", rules.items)]
        for where, location in dict.fromkeys(named):
            if path_parameter(location) is None or _PATH_ROLES.search(where):
                continue
            if where == "/dedupe/key/name":
                instead = ": an idempotency key in the path is `key: {in: path, name: ...}`"
            else:
                instead = " (they are read for event_field and identity fields only)"
            yield (
                op.pointer + "/x-ingest" + where,
                f"{op.operation_id}: {where[1:]} cannot be read from a path parameter{instead}",
            )


@rule()
def occurred_at_matches_its_unit(spec: Spec) -> Iterator[Finding]:
    """The occurred-at field's schema matches its unit (RFC 3339 string or epoch number; it may admit
    null, which is absent: the receive time is used)."""
    for op in spec.ingest_operations:
        ingest = op.ingest
        assert ingest is not None
        schemas = schemas_at(op.item_schema, ingest.items.occurred_at)
        if not schemas:
            continue
        schema = schemas[0]
        types = schema_types(schema) - {"null"}
        if ingest.occurred_at_unit == "rfc3339":
            if types != {"string"} or schema.get("format") != "date-time":
                yield (
                    _x(op, "occurred_at_field"),
                    f"{op.operation_id}: {ingest.occurred_at_field!r} is read as an RFC 3339 time, so its "
                    f"schema must be a string with format date-time, not {_type_text(types)}"
                    + ("" if types != {"string"} else f" with format {schema.get('format')!r}")
                    + "; or set occurred_at_unit to seconds or milliseconds",
                )
        elif not types or not types <= {"integer", "number", "string"}:
            yield (
                _x(op, "occurred_at_unit"),
                f"{op.operation_id}: occurred_at_unit {ingest.occurred_at_unit} needs "
                f"{ingest.occurred_at_field!r} typed integer or number, not {_type_text(types)}",
            )
        elif "string" in types and "pattern" not in schema:
            # A number sent as its text ("1733461200000") is read when the schema says which texts.
            yield (
                _x(op, "occurred_at_unit"),
                f"{op.operation_id}: occurred_at_unit {ingest.occurred_at_unit} reads a string "
                f"{ingest.occurred_at_field!r} as the text of a number only when its schema has a "
                "`pattern` of digits (such as ^[0-9]{1,15}$)",
            )


@rule()
def success_bodies_match_their_schema(spec: Spec) -> Iterator[Finding]:
    """The success and replay bodies the server builds match their documented schema."""
    for op in spec.ingest_operations:
        ingest = op.ingest
        assert ingest is not None
        shapes = [("response", ingest.response)]
        shapes += [("dedupe/replay", ingest.dedupe.replay)] if ingest.dedupe else []
        if ingest.batch:
            # A batch answers its own shape (the server checks each item's result); a text one is here.
            shapes = (
                [("batch/response", ingest.batch.response)] if ingest.batch.response.kind == "text" else []
            )
        for where, shape in shapes:
            response = op.responses.get(shape.status)
            if response is None or not response.schema or shape.kind == "empty":
                continue  # lint names an undocumented status, or a body where none is answered
            check = validator(response.schema)
            if shape.kind == "text":
                error = next(check.iter_errors(text_value(shape.text or "", response.media_type)), None)
                if error is not None:
                    yield (
                        _x(op, *where.split("/"), "text"),
                        f"{op.operation_id}: the {shape.status} text {shape.text!r} does not match the "
                        f"documented schema: {error.message}",
                    )
                continue
            failures = {}
            for field in ingest.identity.fields:
                error = next(check.iter_errors(success_body(op, shape, field)), None)
                if error is not None:
                    failures[field.kind] = error
            if failures:
                kinds = ", ".join(repr(kind) for kind in failures)
                error = next(iter(failures.values()))
                yield (
                    _x(op, *where.split("/")),
                    f"{op.operation_id}: the {shape.status} body the server builds for identity {kinds} "
                    f"cannot match the documented schema: at {pointer_of(*error.absolute_path) or '/'}: "
                    f"{error.message}",
                )


@rule()
def success_responses_are_json(spec: Spec) -> Iterator[Finding]:
    """The success and replay responses are documented as answered: JSON fields, a text, or no body."""
    for op in spec.ingest_operations:
        ingest = op.ingest
        assert ingest is not None
        shapes = [("response", ingest.response)]
        shapes += [("dedupe/replay", ingest.dedupe.replay)] if ingest.dedupe else []
        if ingest.batch:
            shapes = [("batch/response", ingest.batch.response)]  # the only answer of a batch
        said: set[ResponseShape] = set()
        for inner, shape in shapes:
            response = op.responses.get(shape.status)
            if response is None or shape in said:
                continue  # lint names an undocumented status; a replay shaped as the success is said once
            said.add(shape)
            where = f"{op.pointer}/responses/{shape.status}"
            problem = _documented_as(shape, response.media_type)
            if problem is None:
                continue
            if response.media_type is not None:
                where += f"/content/{escape(response.media_type)}"
            if shape.kind != "json":
                where = _x(op, *inner.split("/"))
            yield where, f"{op.operation_id}: {shape.status} {problem}"
        if ingest.response.header:
            yield (
                _x(op, "response", "header"),
                f"{op.operation_id}: a header on the success response is not implemented "
                "(only on the replay)",
            )


def _documented_as(shape: ResponseShape, media_type: str | None) -> str | None:
    """What keeps the answer of `shape` from being the documented response of `media_type`, if anything."""
    if shape.kind == "empty":
        return f"is documented with a {media_type} body, but x-ingest answers none" if media_type else None
    if media_type is None:
        return "documents no body, but x-ingest answers one"
    if shape.kind == "json" and not is_json(media_type):
        return f"is documented as {media_type}, but the server answers JSON"
    if shape.kind == "text" and is_json(media_type):
        try:
            json.loads(shape.text or "")
        except ValueError:
            return f"is documented as {media_type}, but the x-ingest text {shape.text!r} is not JSON"
    return None


def text_value(text: str, media_type: str | None) -> Any:
    """What a constant text body is, judged by its documented schema: its JSON value, or the string."""
    return json.loads(text) if media_type and is_json(media_type) else text


@rule()
def required_headers_are_sent(spec: Spec) -> Iterator[Finding]:
    """Every required response header is one the server sends."""
    for op in spec.ingest_operations:
        ingest = op.ingest
        assert ingest is not None
        sent = _headers_sent(op, ingest)
        for response in (*op.responses.values(), *op.ranges.values()):
            status = response.name
            for name, header in response.header_objects.items():
                required = isinstance(header, Mapping) and header.get("required")
                if required and name.lower() not in sent.get(str(status), set()):
                    yield (
                        f"{op.pointer}/responses/{escape(status)}/headers/{escape(name)}",
                        f"{op.operation_id}: the {status} response's required header {name!r} is never sent",
                    )


def _headers_sent(op: Operation, ingest: Ingest) -> dict[str, set[str]]:
    """Status (as the responses object writes it) -> lower-case names of the headers the server sets."""
    sent: dict[str, set[str]] = {}
    catalogue = ingest.errors.catalogue

    def add(status: int, name: str) -> None:
        sent.setdefault(str(status), set()).add(name.lower())

    if any(s.kind in ("bearer", "basic") for s in op.schemes):
        add(catalogue["unauthorized"].status, "WWW-Authenticate")
    for key in (ingest.rate_limit.error if ingest.rate_limit else None, *ingest.server_errors()):
        if key:
            add(catalogue[key].status, "Retry-After")
    if ingest.dedupe and ingest.dedupe.replay.header:
        add(ingest.dedupe.replay.status, ingest.dedupe.replay.header)
    return sent


@rule()
def one_base_path(spec: Spec) -> Iterator[Finding]:
    """No servers on a path item or operation (one base path for the whole spec)."""
    for op in spec.operations:
        for where in op.servers:
            yield (
                where,
                f"{op.operation_id}: servers on a path or operation are not implemented (every "
                "operation is served under the first top-level server's path)",
            )


@rule()
def dedupe_key_is_declared(spec: Spec) -> Iterator[Finding]:
    """An idempotency key in a header or path is a declared parameter of the operation."""
    for op in spec.ingest_operations:
        dedupe = op.ingest.dedupe if op.ingest else None
        if dedupe is None or dedupe.key.location == "body":
            continue
        key = dedupe.key
        declared = any(
            p.location == key.location
            and (p.name.lower() == key.name.lower() if key.location == "header" else p.name == key.name)
            for p in op.parameters
        )
        if not declared:
            yield (
                _x(op, "dedupe", "key"),
                f"{op.operation_id}: the idempotency key is the {key.location} parameter {key.name!r}, "
                "which the operation does not declare"
                + did_you_mean(key.name, [p.name for p in op.parameters if p.location == key.location]),
            )


def _x(op: Operation, *tokens: object) -> str:
    """A pointer into the operation's x-ingest block."""
    return op.pointer + "/x-ingest" + pointer_of(*tokens)


def _requirement(op: Operation, index: int) -> str:
    """Where the operation's `index`th security requirement is written: on it, or at the top."""
    return f"{op.security_pointer}/{index}"


def _describe(scheme: SecurityScheme) -> str:
    kind, _, detail = scheme.kind.partition("/")
    if kind == "apiKey":
        return f"apiKey in {detail or 'an unnamed place'}"
    if kind == "http":
        return f"http {detail or 'without a scheme'}"
    return kind


def _type_text(types: set[str]) -> str:
    return " or ".join(sorted(types)) if types else "untyped"
