"""`generator/spec.py`: the model's own functions."""

from __future__ import annotations

from ingestspec.generator.spec.model import ObjectFields, object_fields


def test_object_fields_are_read_through_allof_anyof_and_oneof() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"type": "string"}, "b": {"minLength": 1}},
        "allOf": [
            {"required": ["b"], "properties": {"b": {"type": "string", "minLength": 2}}},
            {
                "anyOf": [
                    {"required": ["c", "d"]},
                    {"required": ["c"], "properties": {"c": {"type": "integer"}}},
                ]
            },
        ],
        "oneOf": [{"required": ["e"], "properties": {"e": {}}}, {"required": ["f"], "properties": {"f": {}}}],
    }
    assert object_fields(schema) == ObjectFields(
        properties={
            "a": {"type": "string"},
            "b": {"type": "string", "minLength": 1},  # the schema's own keyword wins the clash
            "c": {"type": "integer"},
            "e": {},
            "f": {},
        },
        required=("a", "b", "c"),  # c: every anyOf branch requires it
        alternatives=((("d",), ()), (("e",), ("f",))),
    )
    assert object_fields(None) == ObjectFields({}, ())
