"""The README's x-ingest reference has an example of every key, and each example is valid."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
import yaml

from ingestspec.generator.spec.loader import bundled_schema
from ingestspec.generator.spec.model import FIXED_ERRORS
from tests.conftest import REPO


def fragments() -> list[Any]:
    """The YAML blocks of the README's x-ingest reference."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("### The `x-ingest` reference") : text.index("### OpenAPI features")]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def reference_examples() -> dict[str, Any]:
    """Key -> example value, from the blocks that are parts of an x-ingest block."""
    examples: dict[str, Any] = {}
    for fragment in fragments():
        if "paths" not in fragment:  # those show where a block goes
            examples.update(fragment)
    return examples


def test_the_read_example_is_valid() -> None:
    (read,) = [
        operation["x-ingest-read"]
        for fragment in fragments()
        for item in (fragment.get("paths") or {}).values()
        for operation in item.values()
        if "x-ingest-read" in operation
    ]
    jsonschema.Draft202012Validator(bundled_schema("x-ingest-read")).validate(read)


def test_every_key_of_the_schema_has_an_example() -> None:
    assert sorted(reference_examples()) == sorted(bundled_schema("x-ingest")["properties"])


@pytest.mark.parametrize("key", sorted(bundled_schema("x-ingest")["properties"]))
def test_each_example_is_valid(key: str) -> None:
    schema = bundled_schema("x-ingest")
    value = reference_examples()[key]
    if key == "errors":  # the example shows two entries and says the others are there too
        for fixed in FIXED_ERRORS:
            value["catalogue"].setdefault(fixed, {"status": 400, "message": "m"})
    jsonschema.Draft202012Validator({"$defs": schema["$defs"], **schema["properties"][key]}).validate(value)
