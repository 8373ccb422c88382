"""Lint rules about the spec agreeing with itself: examples, named fields, documented errors.

Each rule is registered by `@rule` (`rules.py`) and yields `(pointer, message)` findings; what the
generated server does not implement is in `unsupported.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..generate.samples import placeholder_values
from ..spec.model import (
    PATH_EXPRESSION,
    PLACEHOLDERS,
    ROUTING_ERRORS,
    ErrorEntry,
    ErrorEnvelope,
    Operation,
    Spec,
    escape,
    field_pointer,
    path_parameter,
    pointer_get,
    pointer_of,
    pointer_parts,
    properties_of,
    schema_types,
    schemas_at,
)
from .rules import Finding, rule
from .suggest import did_you_mean
from .validate import check_value, is_json

__all__: list[str] = []


@rule("warning")
def examples_match_their_schema(spec: Spec) -> Iterator[Finding]:
    """Every request, response and property example matches its schema (a warning: vendors publish
    examples that break their own schemas; the suite sends none of those)."""
    for op in spec.operations:
        for example in op.request_examples:
            where = example.pointer
            yield from _example_findings(
                op.request_schema, example.value, where, f"request example {example.name!r}"
            )
        for response in op.responses.values():
            for example in response.examples:
                where = example.pointer
                what = f"{response.status} example {example.name!r}"
                yield from _example_findings(response.schema or {}, example.value, where, what)
    for found in spec.property_examples:
        what = f"schema {found.component}.{found.property} example {found.value!r}"
        yield from _example_findings(found.schema, found.value, found.pointer, what, dive=False)


def _example_findings(
    schema: Mapping[str, Any], value: Any, where: str, what: str, dive: bool = True
) -> Iterator[Finding]:
    """An example against its schema; `example: null` (what generators write for "none") said as such."""
    found = list(check_value(schema, value, where, what, dive=dive))
    if value is None and found:
        found = [(where, f"{what} is null, which the schema refuses: `example: null` documents no example")]
    yield from found


@rule()
def named_fields_exist(spec: Spec) -> Iterator[Finding]:
    """Every field x-ingest names (a name or a JSON Pointer) resolves in the request (or item) schema."""
    for op in spec.ingest_operations:
        ingest = op.ingest
        assert ingest is not None
        rules = ingest.items
        x = op.pointer + "/x-ingest"
        where = "the batch item's schema" if ingest.batch else "the request schema"
        kinds = schema_types(op.request_schema)
        if not ingest.batch and "array" in kinds and "object" not in kinds:
            yield (
                f"{op.pointer}/requestBody",
                f"{op.operation_id}: the request body is a JSON array, which only a batch reads: "
                'x-ingest `batch: {items_field: ""}` makes each of its items an event',
            )
        arrays = schemas_at(op.request_schema, rules.items) if rules.items is not None else []
        if ingest.batch and not any("array" in schema_types(s) for s in arrays):
            bare = "array" in schema_types(op.request_schema)  # Mixpanel's /import: `[{...}, ...]`
            yield (
                f"{x}/batch/items_field",
                f"{op.operation_id}: batch items_field {ingest.batch.items_field!r} is not an array "
                "of the request schema"
                + (
                    ": the request body is itself the array, which the empty JSON Pointer names "
                    '(`items_field: ""`)'
                    if bare
                    else _suggestion(ingest.batch.items_field, op.request_schema)
                ),
            )
        named = [
            (inner, pointer, op.kind_schema(kind) if kind else op.item_schema, where)
            for inner, pointer, kind in rules.locations()
        ]
        if rules.credential:
            named.append(("/credential_field", rules.credential, op.request_schema, "the request schema"))
        seen = set()
        for inner, pointer, schema, lacking in named:
            if inner == "/dedupe/key/name" and ingest.version == 1:
                inner = "/dedupe/key_field"
            if path_parameter(pointer) is not None:
                continue  # read from the path: path_values_are_path_parameters judges it
            if (inner, pointer) not in seen and not schemas_at(schema, pointer):
                seen.add((inner, pointer))  # a rule the kinds share is said once
                name = _written(pointer)
                lacks = f"x-ingest names request field {name!r}, which {lacking} lacks"
                yield x + inner, f"{op.operation_id}: {lacks}" + _suggestion(name, schema, op)


@rule()
def path_values_are_path_parameters(spec: Spec) -> Iterator[Finding]:
    """Every field x-ingest reads from a path parameter (`$request.path.name`) is one the operation has."""
    for op in spec.ingest_operations:
        assert op.ingest is not None
        declared = {p.name: p.location for p in op.parameters}
        for inner, name, _ in dict.fromkeys(op.ingest.items.from_path()):
            if declared.get(name) == "path":
                continue
            found = (
                f"a {declared[name]} parameter, not a path one"
                if name in declared
                else "which the operation does not declare"
                + did_you_mean(name, [p.name for p in op.parameters if p.location == "path"])
            )
            yield (
                f"{op.pointer}/x-ingest{inner}",
                f"{op.operation_id}: x-ingest reads path parameter {name!r}, {found}",
            )


def _written(pointer: str) -> str:
    """A field as a spec writes it: its plain name at the top level, else its JSON Pointer."""
    parts = pointer_parts(pointer)
    return parts[0] if len(parts) == 1 else pointer


def _suggestion(name: str, schema: Mapping[str, Any], op: Operation | None = None) -> str:
    """`did_you_mean` among the members of the object `name` is in, or, for a member declared deeper
    (`timestamp` at `/context/timestamp`), the pointer that names it; for a path parameter of `op`
    of that name, the expression that reads it."""
    if op is not None and any(p.location == "path" and p.name == name for p in op.parameters):
        return f": {name!r} is a path parameter of the operation; name it `{PATH_EXPRESSION}{name}`"
    if not name:
        return ": the empty JSON Pointer names the whole body, and the schema is not an array"
    *parents, last = pointer_parts(field_pointer(name))
    members = {
        k: v for s in schemas_at(schema, pointer_of(*parents)) for k, v in (s.get("properties") or {}).items()
    }
    deeper = _declared_below(schema, pointer_of(*parents), last)
    if last not in members and deeper:
        where = pointer_of(*parents) or "its top level"
        return f" at {where}: it is declared at {deeper}; name it by that JSON Pointer"
    return did_you_mean(last, members)


def _declared_below(schema: Mapping[str, Any], at: str, name: str, depth: int = 4) -> str | None:
    """The first pointer below `at` (breadth first, at most `depth` levels) where `name` is declared."""
    queue = [at]
    while queue:
        here = queue.pop(0)
        members = {k for s in schemas_at(schema, here) for k in properties_of(s)}
        if here != at and name in members:
            return f"{here}/{escape(name)}"
        if here.count("/") - at.count("/") < depth:
            queue += [f"{here}/{escape(member)}" for member in sorted(members)]
    return None


@rule()
def success_statuses_are_documented(spec: Spec) -> Iterator[Finding]:
    """The statuses x-ingest answers with (success, replay) are documented responses."""
    for op in spec.ingest_operations:
        ingest = op.ingest
        assert ingest is not None
        shapes = [("/response", ingest.response)]
        shapes += [("/dedupe/replay", ingest.dedupe.replay)] if ingest.dedupe else []
        for inner, shape in shapes:
            if shape.status not in op.responses:
                yield (
                    f"{op.pointer}/x-ingest{inner}/status",
                    f"{op.operation_id}: x-ingest answers {shape.status}, which is not a documented response",
                )


# Statuses whose answer has no body (RFC 9110 sections 15.3.5, 15.3.6 and 15.4.5): a server that writes
# one breaks the connection (uvicorn drops it), after the event was stored.
BODILESS_STATUSES = (204, 205, 304)


@rule()
def bodiless_statuses_have_no_content(spec: Spec) -> Iterator[Finding]:
    """A 204, 205 or 304 response documents no content: HTTP gives those statuses no body."""
    for op in spec.operations:
        for status in BODILESS_STATUSES:
            response = op.responses.get(status)
            if response is not None and response.media_type is not None:
                yield (
                    f"{op.pointer}/responses/{status}/content",
                    f"{op.operation_id}: a {status} answer has no body (RFC 9110), but it is documented "
                    f"with {response.media_type} content",
                )


def _answered(op: Operation) -> Iterator[tuple[str, ErrorEntry]]:
    """The catalogue entries the operation's behaviour answers (requests and the server's own failure)."""
    ingest = op.ingest
    assert ingest is not None
    for key in ingest.used_errors() + ingest.server_errors():
        yield key, ingest.errors.catalogue[key]


@rule()
def errors_are_documented(spec: Spec) -> Iterator[Finding]:
    """Every error the behaviour can answer has its status among the operation's responses (a range
    such as `4XX`, or `default`, documents every status it covers)."""
    for op in spec.ingest_operations:
        assert op.ingest is not None
        for key, entry in _answered(op):
            if op.documented(entry.status) is None and entry.status not in op.ingest.errors.undocumented:
                yield (
                    _entry_pointer(op, entry, "status"),
                    f"{op.operation_id}: error {key!r} answers {entry.status}, which is not a documented "
                    "response (document it, or list it in x-ingest errors.undocumented)"
                    + (
                        " (a catalogue default: document it, or a 4XX/5XX range or default)"
                        if entry.default
                        else ""
                    ),
                )


@rule(severity="warning")
def undocumented_errors_are_answered(spec: Spec) -> Iterator[Finding]:
    """An error answered with a status x-ingest lists in errors.undocumented: the file does not
    document it (OpenAPI allows it), so each one is said."""
    for op in spec.ingest_operations:
        assert op.ingest is not None
        for key, entry in _answered(op):
            if op.documented(entry.status) is None and entry.status in op.ingest.errors.undocumented:
                yield (
                    _entry_pointer(op, entry, "status"),
                    f"{op.operation_id}: error {key!r} answers {entry.status}, which the file does not "
                    "document (listed in x-ingest errors.undocumented)",
                )


@rule()
def undocumented_statuses_are_answered_and_undocumented(spec: Spec) -> Iterator[Finding]:
    """Each status x-ingest lists in errors.undocumented is answered by an error and documented by no
    response (a documented one needs no listing)."""
    for op in spec.ingest_operations:
        assert op.ingest is not None
        answered = {entry.status for _, entry in _answered(op)}
        for index, status in enumerate(op.ingest.errors.undocumented):
            where = f"{op.pointer}/x-ingest/errors/undocumented/{index}"
            if op.documented(status) is not None:
                yield where, f"{op.operation_id}: {status} is documented; remove it from errors.undocumented"
            elif status not in answered:
                yield where, f"{op.operation_id}: no error the server answers has status {status}"


def _entry_pointer(op: Operation, entry: ErrorEntry, member: str = "") -> str:
    """Where a catalogue entry is said: its own member, or the errors block for a default entry."""
    if entry.default:
        return f"{op.pointer}/x-ingest/errors"
    return f"{op.pointer}/x-ingest/errors/catalogue/{escape(entry.key)}" + (f"/{member}" if member else "")


@rule()
def error_media_types(spec: Spec) -> Iterator[Finding]:
    """Every documented error response has the media type of the x-ingest error envelope."""
    for op in spec.ingest_operations:
        assert op.ingest is not None
        media_type = op.ingest.errors.media_type
        for key, entry in _answered(op):
            response = op.documented(entry.status)
            if response is not None and response.media_type != media_type:
                yield (
                    f"{op.pointer}/responses/{escape(response.name)}/content",
                    f"{op.operation_id}: error {key!r}: {entry.status} is documented as "
                    f"{response.media_type}, not {media_type}",
                )


@rule()
def error_bodies_match_their_schema(spec: Spec) -> Iterator[Finding]:
    """Every error body the server renders from the catalogue matches its documented schema."""
    for op in spec.ingest_operations:
        ingest = op.ingest
        assert ingest is not None
        catalogue = op.pointer + "/x-ingest/errors/catalogue"
        params = placeholder_values(op)
        for key, entry in _answered(op):
            response = op.documented(entry.status)
            if response is None or response.media_type != ingest.errors.media_type:
                continue  # the two rules above name it
            body = ingest.errors.render(key, params, [{"path": "/x", "message": "m"}])
            what = f"error {key!r} body" + (" (a catalogue default)" if entry.default else "")
            where = _entry_pointer(op, entry) if entry.default else f"{catalogue}/{escape(key)}"
            yield from check_value(response.schema or {}, body, where, what)


@rule()
def routing_errors_answer_404_or_405(spec: Spec) -> Iterator[Finding]:
    """route_not_found and method_not_allowed answer 404 or 405 (they belong to no operation)."""
    for op in spec.ingest_operations:
        assert op.ingest is not None
        for key in ROUTING_ERRORS:
            entry = op.ingest.errors.catalogue[key]
            if entry.status not in (404, 405):
                yield (
                    f"{op.pointer}/x-ingest/errors/catalogue/{escape(key)}/status",
                    f"{op.operation_id}: error {key!r} must answer 404 or 405, not {entry.status}",
                )


@rule()
def error_examples_match_the_catalogue(spec: Spec) -> Iterator[Finding]:
    """Every documented error example is a body the catalogue renders for an entry of that status."""
    for op in spec.ingest_operations:
        ingest = op.ingest
        assert ingest is not None
        envelope = ingest.errors
        for response in (*op.responses.values(), *op.ranges.values()):
            if response.range is None and response.status < 400:
                continue
            if response.media_type is None or not (
                is_json(response.media_type) or response.media_type == envelope.media_type
            ):
                continue
            if response.status in ingest.documented_only:
                continue  # someone else answers it (a gateway): its body is not the catalogue's
            # The entries this response documents: those of its status, or every one its range covers.
            entries = {k: e for k, e in envelope.catalogue.items() if op.documented(e.status) is response}
            for example in response.examples:
                if not entries or not isinstance(example.value, str if envelope.text else Mapping):
                    continue  # an undocumented status or a body that is no envelope: other rules say so
                said = envelope.said_status(example.value) if response.range else None
                candidates = {k: e for k, e in entries.items() if said is None or e.status == said}
                if not candidates:
                    continue  # a range's example of a status the server never answers (a gateway's 502)
                mismatches = {k: _mismatch(envelope, e, example.value) for k, e in candidates.items()}
                if all(mismatches.values()):
                    key, why = min(mismatches.items(), key=lambda item: len(item[1]))
                    yield (
                        example.pointer + why[0][0],
                        f"{op.operation_id}: {response.name} example {example.name!r} is no body the "
                        f"server answers: nearest catalogue entry {key!r} differs at "
                        + "; ".join(f"{pointer}: {text}" for pointer, text in why),
                    )


def _mismatch(envelope: ErrorEnvelope, entry: ErrorEntry, body: Any) -> list[tuple[str, str]]:
    """Where `body` differs from what `entry` renders (the message's placeholders match any text)."""
    differences = []
    expected = {} if envelope.text else {**dict(entry.fields)}
    if envelope.status_pointer and not envelope.text:
        expected[envelope.status_pointer] = envelope.status_value(entry)
    for pointer, value in expected.items():
        found = pointer_get(body, pointer)
        if found != value:
            differences.append((pointer, f"{found!r} where the catalogue says {value!r}"))
    message = envelope.message_of(body)
    if not isinstance(message, str) or not _template(entry.message).fullmatch(message):
        said = f"{message!r} where the catalogue says {entry.message!r}"
        differences.append((envelope.message_pointer, said))
    return differences


def _template(message: str) -> re.Pattern[str]:
    """A message template as a pattern: each known placeholder matches any text."""
    parts = re.split(r"(\{(?:" + "|".join(PLACEHOLDERS) + r")\})", message)
    return re.compile("".join(".+?" if i % 2 else re.escape(part) for i, part in enumerate(parts)), re.S)


@rule()
def documented_only_statuses(spec: Spec) -> Iterator[Finding]:
    """Statuses x-ingest marks documented_only are documented, and the server does not answer them."""
    for op in spec.ingest_operations:
        ingest = op.ingest
        assert ingest is not None
        produced = {entry.status for _, entry in _answered(op)} | _successes(op)
        for index, status in enumerate(ingest.documented_only):
            where = f"{op.pointer}/x-ingest/documented_only/{index}"
            if op.documented(status) is None:
                yield where, f"{op.operation_id}: documented_only {status} is not a documented response"
            elif status in produced:
                keys = ", ".join(repr(k) for k, e in _answered(op) if e.status == status) or "its success"
                yield (
                    where,
                    f"{op.operation_id}: documented_only {status} is answered by the server itself "
                    f"({keys}); remove it from documented_only",
                )


@rule()
def links_name_operations(spec: Spec) -> Iterator[Finding]:
    """Every response link's operationId names an operation of the spec."""
    ids = {op.operation_id for op in spec.operations}
    for op in spec.operations:
        for link in op.links:
            target = link.operation_id
            if isinstance(target, str) and target not in ids:
                yield (
                    f"{op.pointer}/responses/{escape(link.status)}/links/{escape(link.name)}/operationId",
                    f"{op.operation_id}: link {link.name!r} names operation {target!r}, which the spec lacks"
                    + did_you_mean(target, ids),
                )


@rule(severity="warning")
def catalogue_entries_are_answered(spec: Spec) -> Iterator[Finding]:
    """Every catalogue entry is answered by some behaviour (an unused one documents nothing)."""
    used = {*ROUTING_ERRORS, "invalid_request"}  # a batch's refused items answer invalid_request too
    used |= {op.read.not_found_error for op in spec.read_operations if op.read}
    for op in spec.ingest_operations:
        assert op.ingest is not None
        used |= {key for key, _ in _answered(op)}
    for op in spec.ingest_operations:
        assert op.ingest is not None
        for key in op.ingest.errors.catalogue:
            if key not in used:
                yield (
                    f"{op.pointer}/x-ingest/errors/catalogue/{escape(key)}",
                    f"{op.operation_id}: catalogue entry {key!r} is answered by nothing x-ingest declares",
                )


def _successes(op: Operation) -> set[int]:
    """The success statuses the server answers: the success body's, the replay's, the batch's."""
    ingest = op.ingest
    assert ingest is not None
    answered = {ingest.response.status}
    answered |= {ingest.dedupe.replay.status} if ingest.dedupe else set()
    answered |= {ingest.batch.response.status} if ingest.batch else set()
    return answered


@rule()
def success_statuses_are_answered(spec: Spec) -> Iterator[Finding]:
    """Every documented success (2xx) status is one the server answers (success, replay or batch)."""
    for op in spec.ingest_operations:
        ingest = op.ingest
        assert ingest is not None
        answered = _successes(op)
        for status in op.responses:
            if 200 <= status < 300 and status not in answered and status not in ingest.documented_only:
                yield (
                    f"{op.pointer}/responses/{status}",
                    f"{op.operation_id}: {status} is documented but the server never answers it (x-ingest "
                    f"answers {', '.join(map(str, sorted(answered)))}; list it in documented_only if "
                    "something in front of the server does)",
                )


@rule()
def base_path_not_repeated(spec: Spec) -> Iterator[Finding]:
    """The server's base path is not repeated at the start of every path (it would be served twice)."""
    base = spec.base_path
    paths = {op.path for op in spec.operations}
    if base and paths and all(path == base or path.startswith(base + "/") for path in paths):
        first = min(paths)
        yield (
            "/servers/0/url",
            f"every path starts with {base}, the first server's path, so {first} would be served at "
            f"{base}{first}; remove {base} from the server URL, or from every path",
        )
