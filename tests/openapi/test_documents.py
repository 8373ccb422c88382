"""Each spec carries every field, status code, error body and example of the vendor's document."""

from __future__ import annotations

import json
import re
from typing import Any

from ingestspec.generator.spec.loader import load_spec
from tests.conftest import SPECS


def json_objects(text: str) -> list[dict[str, Any]]:
    """Every top-level JSON object written in the document (code samples in other languages fail to parse)."""
    decoder = json.JSONDecoder()
    found, index = [], 0
    while (start := text.find("{", index)) != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            index = start + 1
            continue
        if isinstance(value, dict):
            found.append(value)
        index = end
    return found


def contains(value: Any, part: Any) -> bool:
    if value == part:
        return True
    if isinstance(value, dict):
        return any(contains(v, part) for v in value.values())
    if isinstance(value, list):
        return any(contains(v, part) for v in value)
    return False


def spec_examples(api: str) -> list[Any]:
    op = load_spec(SPECS[api]).ingest_operations[0]
    values = [e.value for e in op.request_examples]
    for response in op.responses.values():
        values += [e.value for e in response.examples]
    return values


def test_every_json_block_of_the_document_is_an_example_of_the_spec(api: str, seed_text: str) -> None:
    blocks = json_objects(seed_text)
    assert len(blocks) >= 5
    examples = spec_examples(api)
    # Code samples in other languages leave fragments (the `data` object of the Python sample): they
    # count as carried when they stand inside an example.
    missing = [block for block in blocks if not any(contains(example, block) for example in examples)]
    assert not missing, f"document examples absent from the spec: {missing}"


def test_every_documented_status_code_is_a_response(api: str, seed_text: str) -> None:
    statuses = {int(s) for s in re.findall(r"(?:Returns: |^- |return )(\d{3})\b", seed_text, re.MULTILINE)}
    assert 202 in statuses
    documented = set(load_spec(SPECS[api]).ingest_operations[0].responses)
    assert statuses <= documented


def arsel_fields(text: str) -> dict[str, tuple[str, bool]]:
    rows = re.findall(r"^(\w+) \| (\w+) \| (Yes|No|Conditional) \|", text, re.MULTILINE)
    return {name: (kind, required == "Yes") for name, kind, required in rows}


def sendrealm_fields(text: str) -> dict[str, tuple[str, bool]]:
    body = text.split("application/json", 1)[1].split("\nResponse", 1)[0]
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    fields = {}
    for i, line in enumerate(lines[:-1]):
        match = re.fullmatch(r"(string|object|integer|number|boolean)(?:<(\w+)>)?", lines[i + 1])
        if match and re.fullmatch(r"[a-z_]+", line):
            required = i + 2 < len(lines) and lines[i + 2] == "required"
            fields[line] = (match.group(2) or match.group(1), required)
    return fields


def test_every_body_parameter_is_in_the_request_schema(api: str, seed_text: str) -> None:
    fields = arsel_fields(seed_text) if api == "arsel" else sendrealm_fields(seed_text)
    assert len(fields) >= 5
    schema = load_spec(SPECS[api]).ingest_operations[0].request_schema
    properties, required = schema["properties"], set(schema.get("required", []))
    for name, (kind, is_required) in fields.items():
        assert name in properties, name
        prop = properties[name]
        assert kind in (prop.get("type"), prop.get("format")), f"{name}: {kind} vs {prop}"
        assert (name in required) == is_required, name


def test_documented_error_messages_are_the_catalogue_messages(api: str, seed_text: str) -> None:
    op = load_spec(SPECS[api]).ingest_operations[0]
    assert op.ingest is not None
    errors = op.ingest.errors
    for block in json_objects(seed_text):
        if errors.message_of(block) is not None and errors.status_of(block) is not None:
            rendered = [
                errors.render(key, {"event": "order.completed"})
                for key, entry in errors.catalogue.items()
                if entry.status == errors.status_of(block)
            ]
            assert block in rendered, block
