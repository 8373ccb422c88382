"""`generator/loader.py`: problems come back as data placed where they are found; OpenAPI 3.0 files
are read as 3.1; Swagger 2.0 is refused with the converter to use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ingestspec.generator.errors import LoadProblem, SpecError
from ingestspec.generator.lint.linter import lint
from ingestspec.generator.spec.loader import load_spec
from tests.specs import edited, op, x_ingest

VENDOR30 = Path(__file__).parent / "vendor30" / "track.yaml"
OP = "/paths/~1events~1send/post"


def refusal(path: Path) -> list[LoadProblem]:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return caught.value.found


def test_a_loader_problem_carries_its_pointer_and_rule(tmp_path: Path) -> None:
    def misspelt(document: dict[str, Any]) -> None:
        x_ingest(document)["payload"]["mismatch_error"] = "payload_invalud"
        x_ingest(document)["occured_at_field"] = "sent_at"

    found = refusal(edited(tmp_path, "arsel", misspelt))
    assert found == [
        LoadProblem(
            f"{OP}/x-ingest/occured_at_field",
            "x-ingest-unknown-key",
            "x-ingest: unknown key 'occured_at_field' (did you mean 'occurred_at_field'?)",
        )
    ]
    del_key = edited(
        tmp_path, "arsel", lambda d: x_ingest(d)["payload"].update(mismatch_error="payload_invalud")
    )
    assert refusal(del_key) == [
        LoadProblem(
            f"{OP}/x-ingest/payload/mismatch_error",
            "catalogue-has-key",
            "x-ingest refers to error 'payload_invalud', which the catalogue lacks"
            " (did you mean 'payload_invalid'?)",
        )
    ]


def test_a_missing_key_is_placed_where_it_belongs(tmp_path: Path) -> None:
    path = edited(tmp_path, "arsel", lambda d: x_ingest(d)["errors"]["catalogue"].pop("storage_unavailable"))
    [problem] = refusal(path)
    assert (problem.pointer, problem.rule) == (
        f"{OP}/x-ingest/errors/catalogue/storage_unavailable",
        "x-ingest-schema",
    )
    assert problem.message == "x-ingest.errors.catalogue: 'storage_unavailable' is a required property"


def test_an_unresolved_ref_is_placed_at_the_ref(tmp_path: Path) -> None:
    def astray(document: dict[str, Any]) -> None:
        op(document)["responses"]["400"]["content"]["application/json"]["schema"] = {
            "$ref": "#/components/schemas/Eror"
        }

    [problem] = refusal(edited(tmp_path, "arsel", astray))
    assert problem == LoadProblem(
        f"{OP}/responses/400/content/application~1json/schema/$ref",
        "ref-resolves",
        "#/components/schemas/Eror does not resolve (did you mean 'Error'?)",
    )


def test_an_openapi_30_file_is_read_as_31() -> None:
    spec = load_spec(VENDOR30)
    properties = spec.ingest_operations[0].request_schema["properties"]
    assert properties["channel"] == {"type": ["string", "null"], "enum": ["web", "server", None]}
    assert properties["properties"]["type"] == ["object", "null"]
    assert properties["value"] == {"type": "number", "exclusiveMinimum": 0, "examples": [12.5]}
    assert spec.document["openapi"] == "3.1.0"
    assert lint(VENDOR30) == []


def test_a_30_file_is_linted_by_the_30_rules_and_located_in_the_original(tmp_path: Path) -> None:
    text = VENDOR30.read_text()
    broken = tmp_path / "track.yaml"
    # A schema example that breaks its schema: the 3.1 model holds it as `examples[0]`.
    broken.write_text(
        text.replace("exclusiveMinimum: true, example: 12.5", "exclusiveMinimum: true, example: -3")
    )
    [problem] = lint(broken)
    line = next(i for i, row in enumerate(broken.read_text().splitlines(), 1) if "example: -3" in row)
    assert (problem.rule, problem.pointer) == (
        "examples-match-their-schema",
        "/components/schemas/Track/properties/value/example",
    )
    assert (problem.line, problem.column) == (
        line,
        broken.read_text().splitlines()[line - 1].index("example") + 1,
    )
    # A 3.1 type list is no 3.0: the 3.0 rules say so, where the file has it.
    broken.write_text(text.replace("timestamp: {type: string,", "timestamp: {type: [string, 'null'],"))
    assert "openapi-schema" in {p.rule for p in lint(broken)}


def test_swagger_2_is_refused_with_the_converter_to_use(tmp_path: Path) -> None:
    path = tmp_path / "swagger.yaml"
    path.write_text(yaml.safe_dump({"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {}}))
    [problem] = lint(path)
    assert (problem.rule, problem.pointer) == ("openapi-version", "/swagger")
    assert "npx swagger2openapi" in problem.message
    assert "\n" not in problem.message


def test_what_the_server_does_not_serve_is_in_the_model_where_it_is_written(tmp_path: Path) -> None:
    """Lint's rules read callbacks, webhooks, servers, links and example places from the model."""

    def unserved(document: dict[str, Any]) -> None:
        operation = op(document)
        operation["callbacks"] = {"onSent": {}}
        operation["servers"] = [{"url": "https://eu.example.com"}]
        operation["responses"]["202"]["links"] = {"status": {"operationId": "getEvent"}}
        operation["parameters"] = [{"name": "trace", "in": "header", "content": {"text/plain": {}}}]
        document["webhooks"] = {"eventSent": {}}

    spec = load_spec(edited(tmp_path, "arsel", unserved))
    operation = spec.ingest_operations[0]
    assert operation.callbacks == ("onSent",)
    assert operation.servers == (f"{OP}/servers",)
    assert [(link.status, link.name, link.operation_id) for link in operation.links] == [
        ("202", "status", "getEvent")
    ]
    assert spec.webhooks == ("eventSent",)
    example = operation.request_examples[0]
    media = f"{OP}/requestBody/content/application~1json"
    assert example.pointer == f"{media}/examples/{example.name}/value"
    assert operation.responses[400].examples[0].pointer.startswith(f"{OP}/responses/400/content/")
    [parameter] = operation.parameters
    assert (parameter.pointer, parameter.has_schema) == (f"{OP}/parameters/0", False)
    found = {(e.component, e.property, e.pointer) for e in spec.property_examples}
    assert (
        "SendEventRequest",
        "event",
        "/components/schemas/SendEventRequest/properties/event/examples/0",
    ) in found


def test_nullable_beside_no_type_is_null_or_the_schema(tmp_path: Path) -> None:
    text = VENDOR30.read_text()
    wrapped = (
        "properties:\n          nullable: true\n          allOf: [{$ref: '#/components/schemas/Props'}]\n"
    )
    path = tmp_path / "track.yaml"
    path.write_text(
        text.replace(
            "properties:\n          type: object\n          nullable: true\n"
            "          additionalProperties: {}\n",
            wrapped,
        ).replace(
            "    Error:\n",
            "    Props:\n      type: object\n      properties:\n"
            "        plan: {type: string, example: 7}\n    Error:\n",
        )
    )
    spec = load_spec(path)
    schema = spec.ingest_operations[0].request_schema["properties"]["properties"]
    assert schema["anyOf"][1] == {"type": "null"}
    assert jsonschema.Draft202012Validator(schema).is_valid(None)
    # A problem inside the wrapped schema is placed where the file writes it.
    [problem] = lint(path)
    assert (problem.rule, problem.pointer) == (
        "examples-match-their-schema",
        "/components/schemas/Props/properties/plan/example",
    )
    assert spec.source_pointer("/components/schemas/Track/properties/properties/anyOf/0/allOf/0") == (
        "/components/schemas/Track/properties/properties/allOf/0"
    )


def test_unquoted_dates_and_an_equals_sign_are_read_as_the_strings_json_would_hold(tmp_path: Path) -> None:
    """YAML 1.1 makes a plain `2000-01-23T04:56:07.000+00:00` a datetime and a plain `=` a `value`
    tag PyYAML's safe loader cannot build; OpenAPI's data model is JSON's, where both are strings
    (OneSignal's published file writes both unquoted). A datetime example broke the generated
    `schema.py`; `=` made the file unreadable."""
    text = VENDOR30.read_text().replace(
        "timestamp: '2026-03-10T22:21:56Z'", "timestamp: 2026-03-10T22:21:56Z"
    )
    text = text.replace("enum: [web, server], nullable", "enum: [web, server, =], nullable")
    assert "timestamp: 2026-03-10T22:21:56Z" in text and "server, =]" in text
    path = tmp_path / "track.yaml"
    path.write_text(text)
    spec = load_spec(path)
    operation = spec.ingest_operations[0]
    [example] = operation.request_examples
    assert example.value["timestamp"] == "2026-03-10T22:21:56Z"
    assert operation.request_schema["properties"]["channel"]["enum"] == ["web", "server", "=", None]
