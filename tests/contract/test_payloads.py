from __future__ import annotations

import os
import subprocess
import sys

from ingestspec.contract_tests.payloads import (
    MARKER_PROPERTY,
    interoperable,
    is_valid,
    minimal_payload,
    violations,
    with_marker,
)

OPEN = {"type": "object", "properties": {"total": {"type": "number", "minimum": 0}}}
CLOSED = {
    "type": "object",
    "required": ["plan"],
    "properties": {"plan": {"enum": ["free", "pro"]}},
    "additionalProperties": False,
}


def test_the_minimal_payload_satisfies_its_definition() -> None:
    for schema in (OPEN, CLOSED):
        payload = minimal_payload(schema)
        assert payload is not None and is_valid(schema, payload)


def test_an_unsatisfiable_definition_has_no_payload() -> None:
    assert minimal_payload({"type": "object", "required": ["a"], "properties": {"a": False}}) is None


def test_the_marker_is_added_only_where_the_definition_allows_it() -> None:
    assert with_marker(OPEN, {}, "run1") == {MARKER_PROPERTY: "run1"}
    assert with_marker(CLOSED, {"plan": "free"}, "run1") == {"plan": "free"}


def test_every_violation_is_refused_by_the_definition() -> None:
    found = list(violations(CLOSED, {"plan": "free"}))
    assert {description.split()[0] for description, _ in found} >= {"required", "property", "an"}
    assert all(not is_valid(CLOSED, payload) for _, payload in found)


def test_a_definition_that_accepts_any_object_cannot_be_violated() -> None:
    assert list(violations({"type": "object"}, {})) == []


def test_only_interoperable_numbers_are_sent_as_valid_data() -> None:
    assert interoperable({"a": [1, 2.5, "x", None, True]})
    assert not interoperable({"a": 2**64})
    assert not interoperable([float("inf")])


def test_fresh_values_differ_between_runs_in_ci() -> None:
    """Hypothesis loads its derandomizing "ci" profile when it sees a CI environment; two runs
    against one deployment must still draw different idempotency keys (a repeat is a replay)."""
    draw = (
        "from ingestspec.contract_tests.payloads import fresh_value\n"
        "used = set()\n"
        "for _ in range(20): print(fresh_value({'type': 'string', 'pattern': '^[a-f0-9]{32}$'}, used))"
    )
    env = {**os.environ, "CI": "true"}
    runs = [
        set(
            subprocess.run(
                [sys.executable, "-c", draw], env=env, check=True, capture_output=True, text=True
            ).stdout.split()
        )
        for _ in range(2)
    ]
    assert all(len(run) == 20 for run in runs)
    assert not runs[0] & runs[1]
