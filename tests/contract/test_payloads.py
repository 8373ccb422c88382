from __future__ import annotations

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
