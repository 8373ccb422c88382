"""Payloads built from a project's event definitions: valid ones to reach the success path, invalid ones
to provoke the schema-mismatch error.

OpenAPI cannot describe a per-project event definition, so a fuzzer working from the spec alone
sends payloads that are rightly refused. Here the definitions' own JSON Schemas drive generation,
through Schemathesis's JSON Schema engine, and every candidate is re-checked with jsonschema-rs,
formats asserted: the generated server's validator, so the suite never calls valid what it refuses.

Marking: when a definition lets the payload carry one more property, the suite adds
`"contract_test": "<run id>"` to it (`MARKER_PROPERTY`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import jsonschema_rs
import orjson
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from schemathesis.generation.jsonschema.builder import build
from schemathesis.specs.openapi.formats import STRING_FORMATS

MARKER_PROPERTY = "contract_test"
_SAFE_INTEGER = 2**53 - 1
# jsonschema_rs's draft number for 2020-12, the draft the configuration format prescribes.
_DRAFT_2020_12 = 20
# What to put where a property's type must be broken, keyed by the JSON type it must not be.
_WRONG_VALUE: dict[str, Any] = {
    "string": 12345,
    "number": "not-a-number",
    "integer": "not-an-integer",
    "boolean": "not-a-boolean",
    "object": ["not-an-object"],
    "array": {"not": "an-array"},
    "null": "not-null",
}


def _key(schema: Mapping[str, Any]) -> bytes:
    return orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)


@cache
def _validator(key: bytes) -> Any:
    return jsonschema_rs.validator_for(orjson.loads(key), validate_formats=True)


def is_valid(schema: Mapping[str, Any], value: Any) -> bool:
    """Whether `value` satisfies the schema (Draft 2020-12, formats asserted)."""
    return bool(_validator(_key(schema)).is_valid(value))


def first_error(schema: Mapping[str, Any], value: Any) -> str | None:
    """Where and why `value` breaks the schema (formats asserted), or None when it satisfies it."""
    for error in _validator(_key(schema)).iter_errors(value):
        return f"at /{'/'.join(map(str, error.instance_path))}: {error.message}"
    return None


def payload_strategy(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Objects the definition accepts, from Schemathesis's JSON Schema engine."""
    strategy = build(copy.deepcopy(dict(schema)), draft=_DRAFT_2020_12, formats=STRING_FORMATS)
    return strategy.filter(
        lambda value: isinstance(value, dict) and interoperable(value) and is_valid(schema, value)
    )


def interoperable(value: Any) -> bool:
    """Whether every number in `value` is one JSON parsers agree on (RFC 8259 section 6: within
    IEEE 754 doubles, integers exactly representable). Positive cases keep to these, so a parser's
    documented limits are not reported as the API refusing valid data."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return abs(value) <= _SAFE_INTEGER
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(interoperable(v) for v in value.values())
    if isinstance(value, list):
        return all(interoperable(v) for v in value)
    return False


@cache
def _minimal(key: bytes) -> Any:
    schema = orjson.loads(key)
    try:
        return find(
            payload_strategy(schema),
            lambda _: True,
            settings=settings(
                database=None,
                max_examples=200,
                phases=[Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            ),
        )
    except Exception:  # noqa: BLE001 - any failure means "no valid payload can be built"
        return None


def minimal_payload(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """The simplest payload the definition accepts (deterministic), or None when none can be built."""
    value = _minimal(_key(schema))
    return copy.deepcopy(value) if isinstance(value, dict) else None


def with_marker(schema: Mapping[str, Any], payload: dict[str, Any], run_id: str) -> dict[str, Any]:
    """`payload` carrying the suite's marker property, if the definition allows one more property."""
    if MARKER_PROPERTY in payload:
        return payload
    marked = {**payload, MARKER_PROPERTY: run_id}
    return marked if is_valid(schema, marked) else payload


def violations(schema: Mapping[str, Any], valid: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Payloads the definition refuses, each with how it was broken, derived from a valid payload."""
    candidates: list[tuple[str, dict[str, Any]]] = []
    for name in schema.get("required") or ():
        if name in valid:
            candidates.append(
                (f"required property {name!r} dropped", {k: v for k, v in valid.items() if k != name})
            )
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, Mapping):
            continue
        for wrong in _wrong_values(sub):
            candidates.append((f"property {name!r} set to {wrong!r}", {**valid, name: wrong}))
    if schema.get("additionalProperties") is False:
        candidates.append(("an undeclared property added", {**valid, f"{MARKER_PROPERTY}_undeclared": 1}))
    for description, payload in candidates:
        if not is_valid(schema, payload):
            yield description, payload


def _wrong_values(schema: Mapping[str, Any]) -> Iterator[Any]:
    declared = schema.get("type")
    types = [declared] if isinstance(declared, str) else list(declared or [])
    for name in types:
        yield _WRONG_VALUE.get(name)
    if "enum" in schema or "const" in schema:
        yield f"{MARKER_PROPERTY}-not-allowed"
    if not types:
        # An untyped property (enum, pattern, bounds only): try a value of each kind.
        yield from (12345, "x", None, [], {})
