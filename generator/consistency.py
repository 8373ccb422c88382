"""Lint rules about the spec agreeing with itself: examples, named fields, documented errors.

Each rule is registered by `@rule` (`rules.py`) and yields `(pointer, message)` findings; what the
generated server does not implement is in `unsupported.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import SpecError
from .loader import resolve
from .rules import Finding, rule
from .samples import placeholder_values
from .spec import (
    PLACEHOLDERS,
    ROUTING_ERRORS,
    ErrorEntry,
    ErrorEnvelope,
    Operation,
    Spec,
    escape,
    field_pointer,
    pointer_get,
    pointer_of,
    pointer_parts,
    schema_types,
    schemas_at,
)
from .suggest import did_you_mean
from .validate import check_value, is_json

__all__: list[str] = []


@rule()
def examples_match_their_schema(spec: Spec) -> Iterator[Finding]:
    """Every request, response and property example matches its schema."""
    for op in spec.operations:
        media = f"{op.pointer}/requestBody/content/{escape(op.request_media_type)}"
        for example in op.request_examples:
            where = _example_pointer(spec, media, example.name)
            what = f"request example {example.name!r}"
            yield from check_value(op.request_schema, example.value, where, what, dive=True)
        for response in op.responses.values():
            media = f"{op.pointer}/responses/{response.status}/content/{escape(response.media_type or '')}"
            for example in response.examples:
                where = _example_pointer(spec, media, example.name)
                what = f"{response.status} example {example.name!r}"
                yield from check_value(response.schema or {}, example.value, where, what, dive=True)
    schemas = (spec.document.get("components") or {}).get("schemas") or {}
    for name, schema in schemas.items():
        try:
            resolved = resolve(spec.document, schema, spec.path)
        except SpecError:
            continue  # a recursive component no operation uses: nothing of it is served
        for prop, sub in (resolved.get("properties") or {}).items():
            for index, value in enumerate(sub.get("examples") or ()):
                where = pointer_of("components", "schemas", name, "properties", prop, "examples", index)
                yield from check_value(sub, value, where, f"schema {name}.{prop} example {value!r}")


def _example_pointer(spec: Spec, media: str, name: str) -> str:
    if name == "example" and pointer_get(spec.document, media + "/example") is not None:
        return media + "/example"
    return f"{media}/examples/{escape(name)}/value"


@rule()
def named_fields_exist(spec: Spec) -> Iterator[Finding]:
    """Every field x-ingest names (a name or a JSON Pointer) resolves in the request (or item) schema."""
    for op in spec.ingest_operations:
        ingest = op.ingest
        assert ingest is not None
        rules = ingest.items
        x = op.pointer + "/x-ingest"
        where = "the batch item's schema" if ingest.batch else "the request schema"
        arrays = schemas_at(op.request_schema, rules.items) if rules.items else []
        if ingest.batch and not any("array" in schema_types(s) for s in arrays):
            yield (
                f"{x}/batch/items_field",
                f"{op.operation_id}: batch items_field {ingest.batch.items_field!r} is not an array "
                "of the request schema" + _suggestion(ingest.batch.items_field, op.request_schema),
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
            if (inner, pointer) not in seen and not schemas_at(schema, pointer):
                seen.add((inner, pointer))  # a rule the kinds share is said once
                name = _written(pointer)
                lacks = f"x-ingest names request field {name!r}, which {lacking} lacks"
                yield x + inner, f"{op.operation_id}: {lacks}" + _suggestion(name, schema)


def _written(pointer: str) -> str:
    """A field as a spec writes it: its plain name at the top level, else its JSON Pointer."""
    parts = pointer_parts(pointer)
    return parts[0] if len(parts) == 1 else pointer


def _suggestion(name: str, schema: Mapping[str, Any]) -> str:
    """`did_you_mean` among the members of the object `name` is in."""
    *parents, last = pointer_parts(field_pointer(name))
    members = {
        k: v for s in schemas_at(schema, pointer_of(*parents)) for k, v in (s.get("properties") or {}).items()
    }
    return did_you_mean(last, members)


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


def _answered(op: Operation) -> Iterator[tuple[str, ErrorEntry]]:
    """The catalogue entries the operation's behaviour answers (requests and the server's own failure)."""
    ingest = op.ingest
    assert ingest is not None
    for key in ingest.used_errors() + ingest.server_errors():
        yield key, ingest.errors.catalogue[key]


@rule()
def errors_are_documented(spec: Spec) -> Iterator[Finding]:
    """Every error the behaviour can answer has its status among the operation's responses."""
    for op in spec.ingest_operations:
        for key, entry in _answered(op):
            if entry.status not in op.responses:
                yield (
                    f"{op.pointer}/x-ingest/errors/catalogue/{escape(key)}/status",
                    f"{op.operation_id}: error {key!r} answers {entry.status}, "
                    "which is not a documented response",
                )


@rule()
def error_media_types(spec: Spec) -> Iterator[Finding]:
    """Every documented error response has the media type of the x-ingest error envelope."""
    for op in spec.ingest_operations:
        assert op.ingest is not None
        media_type = op.ingest.errors.media_type
        for key, entry in _answered(op):
            response = op.responses.get(entry.status)
            if response is not None and response.media_type != media_type:
                yield (
                    f"{op.pointer}/responses/{entry.status}/content",
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
            response = op.responses.get(entry.status)
            if response is None or response.media_type != ingest.errors.media_type:
                continue  # the two rules above name it
            body = ingest.errors.render(key, params, [{"path": "/x", "message": "m"}])
            what = f"error {key!r} body"
            for pointer, message in check_value(
                response.schema or {}, body, f"{catalogue}/{escape(key)}", what
            ):
                yield pointer, message + _array_hint(ingest.errors.pointers(key))


def _array_hint(pointers: set[str]) -> str:
    """Why a body whose pointers step through an index is not what the spec says, if that is the case."""
    indexed = sorted(p for p in pointers if any(part.isdigit() for part in pointer_parts(p)))
    if not indexed:
        return ""
    return (
        f" (x-ingest error pointers such as {indexed[0]} build objects: an error body inside an array, "
        "like JSON:API's errors[], cannot be said yet)"
    )


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
        for response in op.responses.values():
            if response.status < 400 or response.media_type is None or not is_json(response.media_type):
                continue
            if response.status in ingest.documented_only:
                continue  # someone else answers it (a gateway): its body is not the catalogue's
            entries = {k: e for k, e in envelope.catalogue.items() if e.status == response.status}
            media = f"{op.pointer}/responses/{response.status}/content/{escape(response.media_type)}"
            for example in response.examples:
                if not entries or not isinstance(example.value, Mapping):
                    continue  # an undocumented status or a body that is no envelope: other rules say so
                mismatches = {k: _mismatch(envelope, e, example.value) for k, e in entries.items()}
                if all(mismatches.values()):
                    key, why = min(mismatches.items(), key=lambda item: len(item[1]))
                    yield (
                        _example_pointer(spec, media, example.name) + why[0][0],
                        f"{op.operation_id}: {response.status} example {example.name!r} is no body the "
                        f"server answers: nearest catalogue entry {key!r} differs at "
                        + "; ".join(f"{pointer}: {text}" for pointer, text in why),
                    )


def _mismatch(envelope: ErrorEnvelope, entry: ErrorEntry, body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Where `body` differs from what `entry` renders (the message's placeholders match any text)."""
    differences = []
    expected = {**dict(entry.fields)}
    if envelope.status_pointer:
        expected[envelope.status_pointer] = entry.status
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
            if status not in op.responses:
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
        responses = pointer_get(spec.document, op.pointer + "/responses") or {}
        for status, response in responses.items():
            links = (
                resolve(spec.document, response, spec.path).get("links")
                if isinstance(response, Mapping)
                else None
            )
            for name, link in (links or {}).items():
                target = link.get("operationId") if isinstance(link, Mapping) else None
                if isinstance(target, str) and target not in ids:
                    yield (
                        f"{op.pointer}/responses/{escape(status)}/links/{escape(name)}/operationId",
                        f"{op.operation_id}: link {name!r} names operation {target!r}, which the spec lacks"
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
