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
import hashlib
import math
import random
import secrets
from collections import Counter
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import jsonschema_rs
import orjson
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from schemathesis.generation.jsonschema.builder import build
from schemathesis.specs.openapi.formats import format_lengths_for, get_default_format_strategies

MARKER_PROPERTY = "contract_test"
# Schemathesis's strategies for `format` values (uri, email, date-time, ...); without them the engine
# draws any string for a formatted one and the checks below refuse it.
_FORMATS = get_default_format_strategies()
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


def value_strategy(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values the schema accepts (as the server's validator judges them), from Schemathesis's JSON
    Schema engine: its type, pattern, enum, format and lengths."""
    strategy = build(
        copy.deepcopy(dict(schema)),
        draft=_DRAFT_2020_12,
        formats=_FORMATS,
        format_lengths=format_lengths_for(_FORMATS),
    )
    return strategy.filter(lambda value: interoperable(value) and is_valid(schema, value))


def payload_strategy(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Objects the definition accepts."""
    return value_strategy(schema).filter(lambda value: isinstance(value, dict))


# derandomize is off explicitly: Hypothesis loads its "ci" profile (derandomize=True) when it sees a
# CI environment, and every run would then draw the same values.
_FRESH_SETTINGS = settings(
    database=None,
    derandomize=False,
    max_examples=500,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def fresh_value(schema: Mapping[str, Any], used: set[str]) -> Any:
    """A value the schema accepts that is not in `used` (compared as JSON text), added to it; None
    when none can be found.

    The engine draws its simplest values first (`d000…0`), the same in every run, and another run
    against the same deployment must pick other values (an idempotency key of an earlier run would
    be a replay). So a value is taken only when it is varied (no character fills half of it) and a
    salted hash of it falls in one sixteenth, the salt new each call; a schema that admits no such
    value gets any unused one.
    """
    salt = secrets.token_bytes(8)

    def pick(value: Any) -> bool:
        text = _text(value)
        sampled = hashlib.blake2b(salt + text.encode(), digest_size=1).digest()[0] < 16
        return text not in used and sampled and _varied(value)

    for condition in (pick, lambda v: _text(v) not in used):
        try:
            value = find(value_strategy(schema), condition, settings=_FRESH_SETTINGS, random=_fresh_random())
        except Exception:  # noqa: BLE001 - any failure means "no such value"
            continue
        used.add(_text(value))
        return value
    return None


def _fresh_random() -> random.Random:
    """A generator seeded from the OS, so no profile or forced seed makes two runs draw alike."""
    return random.Random(secrets.randbits(64))


def _varied(value: Any) -> bool:
    """Whether a string is more than one character repeated (other values always are)."""
    if not isinstance(value, str) or len(value) < 4:
        return True
    return max(Counter(value).values()) <= len(value) // 2


def _text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


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


_MINIMAL_SETTINGS = settings(
    database=None,
    max_examples=200,
    phases=[Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)
_NONE: Any = object()


@cache
def _minimal(key: bytes) -> Any:
    schema = orjson.loads(key)
    try:
        return find(payload_strategy(schema), lambda _: True, settings=_MINIMAL_SETTINGS)
    except Exception:  # noqa: BLE001 - any failure means "no valid payload can be built"
        return None


def minimal_payload(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """The simplest payload the definition accepts (deterministic), or None when none can be built."""
    value = _minimal(_key(schema))
    return copy.deepcopy(value) if isinstance(value, dict) else None


@cache
def _minimal_value(key: bytes) -> Any:
    try:
        return find(value_strategy(orjson.loads(key)), lambda _: True, settings=_MINIMAL_SETTINGS)
    except Exception:  # noqa: BLE001 - any failure means "no valid value can be built"
        return _NONE


def minimal_value(schema: Mapping[str, Any]) -> tuple[bool, Any]:
    """(True, the simplest value the schema accepts), or (False, None) when none can be built."""
    value = _minimal_value(_key(schema))
    return (False, None) if value is _NONE else (True, copy.deepcopy(value))


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
