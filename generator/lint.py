"""`ingestspec lint`: is this OpenAPI file a sound ingest spec the generator can serve as declared?

Four layers: the OpenAPI 3.1 rules (openapi-spec-validator); the `x-ingest` block (its own JSON
Schema, through the loader); the spec's own consistency (every example matches its schema, every
error the behaviour can produce is documented with a matching body); and what the generated server
does not implement (`unsupported.py`), which is refused rather than ignored. Every problem names
its place: `file:line:column` and the JSON pointer.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from openapi_spec_validator import OpenAPIV31SpecValidator

from .errors import SpecError
from .loader import bundled_schema, load_spec, read_document, resolve
from .locate import Locator, Problem, escape, pointer_of
from .migrate import version_of
from .samples import event_properties, placeholder_values
from .spec import ROUTING_ERRORS, Operation, Spec, pointer_get, pointer_parts
from .unsupported import Finding, findings, validator

__all__ = ["Problem", "lint"]

# The loader's x-ingest(-read) schema problems: "<operation pointer>/x-ingest.a.b[0]: message".
_X_INGEST_PROBLEM = re.compile(
    r"(?P<block>/\S*?/x-ingest(?:-read)?)(?P<path>(?:\.[^.\[\s:]+|\[\d+\])*): (?P<message>.*)", re.S
)
_UNEXPECTED = re.compile(r"Additional properties are not allowed \((?P<names>.*) (?:was|were) unexpected\)")
_REF_PROBLEM = re.compile(
    r"(?:recursive \$ref (?P<recursive>\S+)|got (?P<remote>\S+)$|(?P<missing>\S+) does not resolve)"
)
_CATALOGUE_LACKS = re.compile(r"x-ingest refers to error '(?P<key>[^']+)'")


def lint(path: str | Path) -> list[Problem]:
    """Every problem found in the spec at `path`, located; an empty list means it is sound."""
    path = Path(path)
    try:
        where = Locator.of(path)
    except OSError as exc:
        return [Problem(str(path), 1, 1, "", f"cannot read the file: {exc.strerror}")]
    if where.syntax_error:
        return [where.syntax_error]
    try:
        document, _ = read_document(path)
    except SpecError as exc:
        return [where.problem("", message) for message in exc.problems]
    problems = list(_openapi_problems(where, document))
    try:
        spec = load_spec(path)
    except SpecError as exc:
        return problems + [p for message in exc.problems for p in _loader_problems(where, document, message)]
    found = [*_example_problems(spec), *_behaviour_problems(spec), *findings(spec)]
    return problems + [where.problem(pointer, message) for pointer, message in found]


def _openapi_problems(where: Locator, document: Mapping[str, Any]) -> Iterator[Problem]:
    try:
        for error in OpenAPIV31SpecValidator(document).iter_errors():
            yield where.problem(pointer_of(*error.path), f"OpenAPI: {_short(error.message)}")
    except RecursionError:
        # A `$ref` that leads back to itself sends the validator round for ever; the loader names it.
        return


def _short(message: str, limit: int = 240) -> str:
    """A validator message without the whole instance it may quote: the first line, cut in the middle."""
    line = message.splitlines()[0] if message else message
    return line if len(line) <= limit else f"{line[: limit - 60]} ... {line[-50:]}"


def _loader_problems(where: Locator, document: Mapping[str, Any], message: str) -> Iterator[Problem]:
    """The loader's message, located: it names an x-ingest path, a `$ref` or a catalogue key."""
    if match := _X_INGEST_PROBLEM.fullmatch(message):
        block = match["block"]
        tokens = re.findall(r"\.([^.\[]+)|\[(\d+)\]", match["path"])
        inner = pointer_of(*(name or index for name, index in tokens))
        text = match["message"]
        if unexpected := _UNEXPECTED.fullmatch(text):
            for name in re.findall(r"'([^']*)'", unexpected["names"]):
                yield where.problem(
                    f"{block}{inner}/{escape(name)}",
                    f"{block.rsplit('/', 1)[-1]}: unknown key {name!r}"
                    + _suggestion(document, block, inner, name),
                )
            return
        label = block.rsplit("/", 1)[-1] + inner.replace("/", ".")
        yield where.problem(block + inner, f"{label}: {text}")
    elif match := _REF_PROBLEM.search(message):
        ref = match["recursive"] or match["remote"] or match["missing"]
        pointer = next(where.members("$ref", ref), "")
        yield where.problem(pointer, message)
    elif match := _CATALOGUE_LACKS.search(message):
        blocks = list(where.members("x-ingest"))
        pointer = next((p for block in blocks for p in where.scalars(block, match["key"])), "")
        yield where.problem(pointer, message)
    elif "no operation carries an x-ingest block" in message:
        yield where.problem("/paths", message)
    elif "OpenAPI 3.1" in message:
        yield where.problem("/openapi", message)
    else:
        yield where.problem("", message)


def _suggestion(document: Mapping[str, Any], block: str, inner: str, name: str) -> str:
    """`" (did you mean 'event_field'?)"` for a misspelt x-ingest key, else nothing."""
    raw = pointer_get(document, block)
    schema = bundled_schema(
        "x-ingest-v1" if isinstance(raw, Mapping) and version_of(raw) == 1 else "x-ingest"
    )
    node: Any = schema
    for part in pointer_parts(inner):
        node = _deref(schema, node)
        if part in (node.get("properties") or {}):
            node = node["properties"][part]
        elif isinstance(node.get("items"), Mapping) and part.isdigit():
            node = node["items"]
        elif isinstance(node.get("additionalProperties"), Mapping):
            node = node["additionalProperties"]
        else:
            return ""
    known = list(_deref(schema, node).get("properties") or {})
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"


def _deref(schema: Mapping[str, Any], node: Any) -> Mapping[str, Any]:
    ref = node.get("$ref") if isinstance(node, Mapping) else None
    return pointer_get(schema, ref[1:]) if isinstance(ref, str) and ref.startswith("#") else node


def _example_problems(spec: Spec) -> Iterator[Finding]:
    for op in spec.operations:
        media = f"{op.pointer}/requestBody/content/{escape(op.request_media_type)}"
        for example in op.request_examples:
            where = _example_pointer(spec, media, example.name)
            yield from _check(
                op.request_schema, example.value, where, f"request example {example.name!r}", dive=True
            )
        for response in op.responses.values():
            media = f"{op.pointer}/responses/{response.status}/content/{escape(response.media_type or '')}"
            for example in response.examples:
                where = _example_pointer(spec, media, example.name)
                what = f"{response.status} example {example.name!r}"
                yield from _check(response.schema or {}, example.value, where, what, dive=True)
    schemas = (spec.document.get("components") or {}).get("schemas") or {}
    for name, schema in schemas.items():
        resolved = resolve(spec.document, schema, spec.path)
        for prop, sub in (resolved.get("properties") or {}).items():
            for index, value in enumerate(sub.get("examples") or ()):
                where = pointer_of("components", "schemas", name, "properties", prop, "examples", index)
                yield from _check(sub, value, where, f"schema {name}.{prop} example {value!r}")


def _example_pointer(spec: Spec, media: str, name: str) -> str:
    if name == "example" and pointer_get(spec.document, media + "/example") is not None:
        return media + "/example"
    return f"{media}/examples/{escape(name)}/value"


def _behaviour_problems(spec: Spec) -> Iterator[Finding]:
    for op in spec.ingest_operations:
        yield from _named_fields(op)
        yield from _documented_errors(op)


def _named_fields(op: Operation) -> Iterator[Finding]:
    ingest = op.ingest
    assert ingest is not None
    x = op.pointer + "/x-ingest"
    top = op.request_schema.get("properties") or {}
    properties = event_properties(op)  # for a batch, an item's
    named = [
        (ingest.event_field, "/event_field", properties),
        (ingest.credential_field, "/credential_field", top),
        (ingest.occurred_at_field, "/occurred_at_field", properties),
        (ingest.payload.field, "/payload/field", properties),
        *((f.name, f"/identity/fields/{i}/name", properties) for i, f in enumerate(ingest.identity.fields)),
    ]
    if ingest.dedupe and ingest.dedupe.key_field:
        inner = "/dedupe/key/name" if ingest.version > 1 else "/dedupe/key_field"
        named.append((ingest.dedupe.key_field, inner, properties))
    if ingest.batch:
        items = top.get(ingest.batch.items_field)
        if not isinstance(items, Mapping) or items.get("type") != "array":
            yield (
                f"{x}/batch/items_field",
                f"{op.operation_id}: batch items_field {ingest.batch.items_field!r} is not an array "
                "of the request schema",
            )
    for name, inner, schema in named:
        if name is not None and name not in schema:
            where = (
                "the batch item's schema" if ingest.batch and schema is properties else "the request schema"
            )
            lacks = f"x-ingest names request field {name!r}, which {where} lacks"
            yield x + inner, f"{op.operation_id}: {lacks}"
    shapes = [("/response", ingest.response)] + (
        [("/dedupe/replay", ingest.dedupe.replay)] if ingest.dedupe else []
    )
    for inner, shape in shapes:
        if shape.status not in op.responses:
            yield (
                f"{x}{inner}/status",
                f"{op.operation_id}: x-ingest answers {shape.status}, which is not a documented response",
            )


def _documented_errors(op: Operation) -> Iterator[Finding]:
    ingest = op.ingest
    assert ingest is not None
    catalogue = op.pointer + "/x-ingest/errors/catalogue"
    params = placeholder_values(op)
    for key in ingest.used_errors() + ingest.server_errors():
        entry = ingest.errors.catalogue[key]
        response = op.responses.get(entry.status)
        if response is None:
            yield (
                f"{catalogue}/{escape(key)}/status",
                f"{op.operation_id}: error {key!r} answers {entry.status}, "
                "which is not a documented response",
            )
            continue
        if response.media_type != ingest.errors.media_type:
            yield (
                f"{op.pointer}/responses/{entry.status}/content",
                f"{op.operation_id}: error {key!r}: {entry.status} is documented as "
                f"{response.media_type}, not {ingest.errors.media_type}",
            )
        body = ingest.errors.render(key, params, [{"path": "/x", "message": "m"}])
        for pointer, message in _check(
            response.schema or {}, body, f"{catalogue}/{escape(key)}", f"error {key!r} body"
        ):
            yield pointer, message + _array_hint(ingest.errors.pointers(key))
    for key in ROUTING_ERRORS:  # not part of any operation's responses
        entry = ingest.errors.catalogue[key]
        if entry.status not in (404, 405):
            yield (
                f"{catalogue}/{escape(key)}/status",
                f"{op.operation_id}: error {key!r} must answer 404 or 405, not {entry.status}",
            )


def _array_hint(pointers: set[str]) -> str:
    """Why a body whose pointers step through an index is not what the spec says, if that is the case."""
    indexed = sorted(p for p in pointers if any(part.isdigit() for part in pointer_parts(p)))
    if not indexed:
        return ""
    return (
        f" (x-ingest error pointers such as {indexed[0]} build objects: an error body inside an array, "
        "like JSON:API's errors[], cannot be said yet)"
    )


def _check(
    schema: Mapping[str, Any], value: Any, pointer: str, what: str, dive: bool = False
) -> Iterator[Finding]:
    """Problems of `value` against `schema`; with `dive`, located at the failing part of `value`."""
    for error in validator(schema).iter_errors(value):
        at = pointer_of(*error.absolute_path)
        message = _short(error.message)
        yield (pointer + at if dive else pointer), f"{what}: {'at ' + at + ': ' if at else ''}{message}"
