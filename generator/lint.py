"""`ingestspec lint`: is this OpenAPI file a sound ingest spec?

Three layers: the OpenAPI 3.1 rules (openapi-spec-validator), the `x-ingest` block (its own JSON
Schema, through the loader), and the spec's own consistency: every example matches its schema, and
every error the behaviour can produce is documented with a body that matches the documented schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
from openapi_spec_validator import OpenAPIV31SpecValidator

from .errors import SpecError
from .loader import load_spec, read_document, resolve
from .spec import ROUTING_ERRORS, Operation, Spec

# Sample values for error-message placeholders when checking rendered bodies against the schema.
_SAMPLE_PARAMS = {"event": "order.completed", "limit": 65536, "prefix": "x.", "key": "k"}


def lint(path: str | Path) -> list[str]:
    """Every problem found in the spec at `path`; an empty list means it is sound."""
    document, _ = read_document(path)
    problems = [
        f"OpenAPI: {_where(e.path)}{e.message}" for e in OpenAPIV31SpecValidator(document).iter_errors()
    ]
    try:
        spec = load_spec(path)
    except SpecError as exc:
        return problems + exc.problems
    problems += list(_example_problems(spec))
    for op in spec.ingest_operations:
        problems += [f"{op.operation_id}: {p}" for p in _behaviour_problems(op)]
    return problems


def _example_problems(spec: Spec) -> Iterator[str]:
    for op in spec.operations:
        for example in op.request_examples:
            yield from _check(
                op.request_schema, example.value, f"{op.operation_id} request example {example.name}"
            )
        for response in op.responses.values():
            for example in response.examples:
                where = f"{op.operation_id} {response.status} example {example.name}"
                yield from _check(response.schema or {}, example.value, where)
    schemas = (spec.document.get("components") or {}).get("schemas") or {}
    for name, schema in schemas.items():
        resolved = resolve(spec.document, schema, spec.path)
        for prop, sub in (resolved.get("properties") or {}).items():
            for value in sub.get("examples") or ():
                yield from _check(sub, value, f"schema {name}.{prop} example {value!r}")


def _behaviour_problems(op: Operation) -> Iterator[str]:
    assert op.ingest is not None
    ingest = op.ingest
    properties = op.request_schema.get("properties") or {}
    named = [ingest.event_field, ingest.occurred_at_field, ingest.payload.field, *ingest.identity.names]
    if ingest.dedupe and ingest.dedupe.key_field:
        named.append(ingest.dedupe.key_field)
    for name in named:
        if name not in properties:
            yield f"x-ingest names request field {name!r}, which the request schema lacks"
    shapes = [ingest.response] + ([ingest.dedupe.replay] if ingest.dedupe else [])
    for shape in shapes:
        if shape.status not in op.responses:
            yield f"x-ingest answers {shape.status}, which is not a documented response"
    for key in ingest.used_errors() + ingest.server_errors():
        entry = ingest.errors.catalogue[key]
        response = op.responses.get(entry.status)
        if response is None:
            yield f"error {key!r} answers {entry.status}, which is not a documented response"
            continue
        if response.media_type != ingest.errors.media_type:
            expected = ingest.errors.media_type
            yield f"error {key!r}: {entry.status} is documented as {response.media_type}, not {expected}"
        body = ingest.errors.render(key, _SAMPLE_PARAMS, [{"path": "/x", "message": "m"}])
        yield from _check(response.schema or {}, body, f"error {key!r} body")
    for key in ROUTING_ERRORS:  # not part of any operation's responses
        entry = ingest.errors.catalogue[key]
        if entry.status not in (404, 405):
            yield f"error {key!r} must answer 404 or 405, not {entry.status}"


def _check(schema: Mapping[str, Any], value: Any, where: str) -> Iterator[str]:
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for error in validator.iter_errors(value):
        yield f"{where}: {_where(error.absolute_path)}{error.message}"


def _where(path: Any) -> str:
    parts = "/".join(str(p) for p in path)
    return f"at /{parts}: " if parts else ""
