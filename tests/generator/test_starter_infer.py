"""What `init --from` infers, each guess on a small inline spec: fields by name and type (nested
ones by JSON Pointer), time units, deduplication keys, credentials, batches, success answers, error
envelopes and the catalogue entries that differ from the defaults; and how the block is written
into the vendor's text (YAML and JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.model import Operation
from ingestspec.generator.starter import emit, infer
from ingestspec.generator.starter.proposal import plain, todos
from ingestspec.generator.starter.vendor import propose_file

ERROR = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}


def api(
    body: dict[str, Any],
    responses: dict[str, Any] | None = None,
    security: dict[str, Any] | None = None,
    path: str = "/track",
    version: str = "3.1.0",
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A one-operation API as a vendor publishes it (no x-ingest)."""
    operation: dict[str, Any] = {
        "operationId": "track",
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": responses
        or {
            "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": {"description": "bad", "content": {"application/json": {"schema": ERROR}}},
        },
    }
    if parameters:
        operation["parameters"] = parameters
    document: dict[str, Any] = {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "paths": {path: {"post": operation}},
    }
    if security:
        document["components"] = {"securitySchemes": {"key": security}}
        document["security"] = [{"key": []}]
    return document


def operation(tmp_path: Path, document: dict[str, Any]) -> Operation:
    path = tmp_path / "vendor.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    [op] = load_spec(path, ingest_required=False).operations
    return op


def proposed(tmp_path: Path, document: dict[str, Any]) -> dict[str, Any]:
    block, _ = infer.propose(operation(tmp_path, document))
    return plain(block)


EVENT = {
    "type": "object",
    "required": ["event"],
    "properties": {
        "event": {"type": "string"},
        "user_id": {"type": "string"},
        "anonymous_id": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "properties": {"type": "object"},
        "api_key": {"type": "string"},
    },
}


def test_top_level_fields_by_name_and_type(tmp_path: Path) -> None:
    block = proposed(tmp_path, api(EVENT))
    assert block["event_field"] == "event"
    assert block["occurred_at_field"] == "timestamp" and "occurred_at_unit" not in block
    assert block["identity"] == {
        "mode": "first_present",
        "fields": [{"name": "user_id", "kind": "user"}, {"name": "anonymous_id", "kind": "anonymous"}],
    }
    assert block["payload"] == {"field": "properties", "validation": "when_defined"}
    assert block["credential_field"] == "api_key"  # no security scheme: the key is in the body
    assert "dedupe" not in block and "batch" not in block


def test_nested_fields_are_json_pointers_and_the_unit_comes_from_the_description(tmp_path: Path) -> None:
    mixpanel = {
        "type": "object",
        "properties": {
            "event": {"type": "string"},
            "properties": {
                "type": "object",
                "properties": {
                    "distinct_id": {"type": "string"},
                    "time": {"type": "integer", "description": "Milliseconds since the epoch."},
                    "$insert_id": {"type": "string"},
                },
            },
        },
    }
    block = proposed(tmp_path, api(mixpanel, security={"type": "http", "scheme": "basic"}))
    assert block["identity"]["fields"] == [{"name": "/properties/distinct_id"}]
    assert (block["occurred_at_field"], block["occurred_at_unit"]) == ("/properties/time", "milliseconds")
    assert block["dedupe"]["key"] == {"in": "body", "name": "/properties/$insert_id"}
    assert "credential_field" not in block  # the security scheme carries the key


@pytest.mark.parametrize(
    ("schema", "example", "unit"),
    [
        ({"type": "integer"}, 1700000000, "seconds"),
        ({"type": "integer"}, 1700000000123, "milliseconds"),
        ({"type": "number", "description": "Unix time in seconds"}, None, "seconds"),
    ],
)
def test_an_epoch_time_s_unit(tmp_path: Path, schema: dict[str, Any], example: Any, unit: str) -> None:
    body = {"type": "object", "properties": {"event": {"type": "string"}, "time": schema}}
    document = api(body)
    if example is not None:
        media = document["paths"]["/track"]["post"]["requestBody"]["content"]["application/json"]
        media["example"] = {"event": "e", "time": example}
    assert proposed(tmp_path, document)["occurred_at_unit"] == unit


def test_an_idempotency_header_and_an_exclusive_identity(tmp_path: Path) -> None:
    body = {
        "type": "object",
        "description": "Send identity or user_id, never both.",
        "properties": {
            "event": {"type": "string"},
            "identity": {"type": "string"},
            "user_id": {"type": "integer"},
        },
    }
    document = api(
        body, parameters=[{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}]
    )
    document["paths"]["/track"]["post"]["description"] = "Send identity or user_id, never both."
    block = proposed(tmp_path, document)
    assert block["dedupe"]["key"] == {"in": "header", "name": "Idempotency-Key"}
    assert block["identity"]["mode"] == "exactly_one"
    assert [f["name"] for f in block["identity"]["fields"]] == ["identity", "user_id"]


def test_what_cannot_be_inferred_is_a_todo(tmp_path: Path) -> None:
    op = operation(tmp_path, api({"type": "object", "properties": {"payload": {"type": "object"}}}))
    block, _ = infer.propose(op)
    assert dict(todos(block)).keys() == {
        "/event_field",
        "/credential_field",
        "/occurred_at_field",
        "/identity/fields",
        "/errors/catalogue/storage_unavailable",  # no 5xx documented
    }
    assert plain(block)["event_field"] == "TODO"


def test_a_batch_array_and_its_counts(tmp_path: Path) -> None:
    body = {
        "type": "object",
        "properties": {"events": {"type": "array", "maxItems": 500, "items": EVENT}},
    }
    answer = {
        "type": "object",
        "required": ["code"],
        "properties": {"code": {"const": 200}, "events_ingested": {"type": "integer"}},
    }
    responses = {
        "200": {"description": "ok", "content": {"application/json": {"schema": answer}}},
        "400": {"description": "bad", "content": {"application/json": {"schema": ERROR}}},
    }
    block = proposed(tmp_path, api(body, responses))
    assert block["batch"] == {
        "items_field": "events",
        "max_items": 500,
        "acceptance": "all_or_nothing",
        "response": {
            "status": 200,
            "fields": {"code": {"const": 200}, "events_ingested": {"source": "accepted"}},
        },
    }
    assert block["response"] == {"status": 200, "fields": {"code": {"const": 200}}}
    assert block["event_field"] == "event"  # read in the item


def test_a_bare_array_body_is_the_empty_pointer(tmp_path: Path) -> None:
    block, _ = infer.propose(operation(tmp_path, api({"type": "array", "items": EVENT})))
    assert "/batch/items_field" not in dict(todos(block))
    assert plain(block)["batch"]["items_field"] == ""  # the body itself is the array
    assert plain(block)["identity"]["fields"][0]["name"] == "user_id"  # the item's fields are read


def test_a_bodiless_success_a_text_success_and_a_text_error(tmp_path: Path) -> None:
    responses = {
        "204": {"description": "stored"},
        "400": {"description": "bad", "content": {"text/plain": {"schema": {"type": "string"}}}},
    }
    block = proposed(tmp_path, api(EVENT, responses))
    assert block["response"] == {"status": 204}
    assert block["errors"]["media_type"] == "text/plain"
    assert block["errors"].keys() == {"media_type", "catalogue"}  # a text body has no members to place
    assert block["errors"]["catalogue"]["payload_too_large"] == {
        "status": 400,  # no 413 documented
        "message": "The request body is larger than {limit} bytes.",
    }
    responses["200"] = {
        "description": "ok",
        "content": {"text/plain": {"schema": {"type": "string"}, "example": "1"}},
    }
    del responses["204"]
    assert proposed(tmp_path, api(EVENT, responses))["response"] == {"status": 200, "text": "1"}


def test_a_json_api_error_envelope(tmp_path: Path) -> None:
    jsonapi = {
        "type": "object",
        "required": ["errors"],
        "properties": {
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["status", "detail"],
                    "properties": {
                        "status": {"type": "string"},
                        "code": {"type": "string"},
                        "detail": {"type": "string"},
                        "source": {"type": "object", "properties": {"pointer": {"type": "string"}}},
                    },
                },
            }
        },
    }
    responses = {
        "202": {"description": "ok"},
        "4XX": {"description": "bad", "content": {"application/vnd.api+json": {"schema": jsonapi}}},
        "5XX": {"description": "down", "content": {"application/vnd.api+json": {"schema": jsonapi}}},
    }
    block = proposed(tmp_path, api(EVENT, responses))
    assert block["errors"] == {
        "media_type": "application/vnd.api+json",
        "message": "/errors/0/detail",
        "status": "/errors/0/status",
        "path": "/errors/0/source/pointer",
    }  # the ranges document every default: no catalogue at all


def test_the_catalogue_lists_only_what_differs_from_the_defaults(tmp_path: Path) -> None:
    nested = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    }
    content = {"application/json": {"schema": nested}}
    responses = {
        "200": {"description": "ok"},
        "400": {
            "description": "bad",
            "content": {
                "application/json": {
                    "schema": nested,
                    "example": {"error": {"code": "bad_json", "message": "Bad JSON."}},
                }
            },
        },
        "401": {"description": "key", "content": content},
        "404": {"description": "gone", "content": content},
    }
    op = operation(tmp_path, api(EVENT, responses))
    block, _ = infer.propose(op)
    errors = plain(block)["errors"]
    assert errors["message"] == "/error/message"
    catalogue = errors["catalogue"]
    assert catalogue["malformed_json"] == {
        "status": 400,
        "message": "Bad JSON.",
        "fields": {"/error/code": "bad_json"},
    }
    assert catalogue["payload_too_large"]["status"] == 400  # no 413 documented: moved to the 400
    assert catalogue["payload_too_large"]["fields"] == {"/error/code": "payload_too_large"}
    assert "unauthorized" not in catalogue  # its default 401 is documented
    assert catalogue["storage_unavailable"]["status"] == 503  # no 5xx at all: a TODO
    assert "/errors/catalogue/storage_unavailable" in dict(todos(block))
    assert plain(block)["documented_only"] == [404]


def test_an_openapi_30_file_is_read_as_the_loader_reads_it(tmp_path: Path) -> None:
    body = {
        "type": "object",
        "properties": {
            "event": {"type": "string"},
            "userId": {"type": "string", "nullable": True},
            "time": {"type": "integer", "example": 1700000000123},
        },
    }
    security = {"type": "apiKey", "in": "header", "name": "Api-Key"}
    op = operation(tmp_path, api(body, security=security, version="3.0.3"))
    block, note = infer.propose(op)
    assert plain(block)["identity"]["fields"] == [{"name": "userId", "kind": "user"}]
    assert plain(block)["occurred_at_unit"] == "milliseconds"  # from the schema's 3.0 `example`
    assert "the header Api-Key" in note


def test_operations_are_chosen_by_id_or_route(tmp_path: Path) -> None:
    document = api(EVENT)
    document["paths"]["/health"] = {
        "get": {"operationId": "health", "responses": {"200": {"description": "ok"}}}
    }
    path = tmp_path / "vendor.yaml"
    path.write_text(yaml.safe_dump(document))
    spec = load_spec(path, ingest_required=False)
    assert [op.operation_id for op in infer.select(spec, ())] == ["track"]
    assert [op.operation_id for op in infer.select(spec, ("get /health", "track", "POST /track"))] == [
        "health",
        "track",
    ]
    with pytest.raises(infer.UnknownOperation, match="'nope'.*health, track"):
        infer.select(spec, ("nope",))


def test_the_block_goes_into_the_yaml_text_with_its_reasons_and_nothing_else_changes(tmp_path: Path) -> None:
    text = yaml.safe_dump(api(EVENT), sort_keys=False)
    text = "# the vendor's own comment\n" + text.replace("operationId: track", "operationId: track  # kept")
    source = tmp_path / "vendor.yaml"
    source.write_text(text)
    out = propose_file(source).spec_text
    added = [line for line in out.splitlines() if line not in text.splitlines()]
    assert out.replace("\n".join(added) + "\n", "") == text
    assert "event_field: event  # required, named like an event name" in out
    assert yaml.safe_load(out)["paths"]["/track"]["post"]["x-ingest"]["version"] == 2


def test_a_json_file_stays_json(tmp_path: Path) -> None:
    source = tmp_path / "vendor.json"
    source.write_text(json.dumps(api(EVENT), indent=2))
    out = propose_file(source).spec_text
    block = json.loads(out)["paths"]["/track"]["post"]["x-ingest"]
    assert block["event_field"] == "event" and block["credential_field"] == "api_key"


def test_a_referenced_path_item_cannot_take_a_block_by_text(tmp_path: Path) -> None:
    with pytest.raises(emit.CannotInsert):
        emit.insert("paths:\n  /a: {$ref: '#/x'}\nx: 1\n", [("/paths/~1a/post", {}, "")])


def test_a_batch_answered_with_no_body_is_a_todo(tmp_path: Path) -> None:
    body = {"type": "object", "properties": {"events": {"type": "array", "items": EVENT}}}
    responses = {
        "202": {"description": "queued"},
        "400": {"description": "bad", "content": {"application/json": {"schema": ERROR}}},
    }
    block, _ = infer.propose(operation(tmp_path, api(body, responses)))
    assert "/batch/response" in dict(todos(block))
    assert plain(block)["response"] == {"status": 202}


def test_an_api_key_s_scheme_word_in_its_description_is_a_note_to_add_the_prefix(tmp_path: Path) -> None:
    security = {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "Send `Authorization: Vendor-API-Key <your key>`.",
    }
    _, note = infer.propose(operation(tmp_path, api(EVENT, security=security)))
    assert "add `x-ingest-prefix: Vendor-API-Key` to components.securitySchemes.key" in note
    security["x-ingest-prefix"] = "Vendor-API-Key"
    _, note = infer.propose(operation(tmp_path, api(EVENT, security=security)))
    assert note.endswith("(the header Authorization with the prefix Vendor-API-Key)")


def test_an_operation_with_its_block_is_left_alone(tmp_path: Path) -> None:
    source = tmp_path / "vendor.yaml"
    source.write_text(yaml.safe_dump(api(EVENT)))
    (tmp_path / "with.yaml").write_text(propose_file(source).spec_text)
    spec = load_spec(tmp_path / "with.yaml")
    assert infer.candidates(spec) == []
    with pytest.raises(infer.UnknownOperation, match="track already has an x-ingest block"):
        infer.select(spec, ("track",))


def test_a_form_carrying_json_is_read_as_the_json_it_carries(tmp_path: Path) -> None:
    form = {
        "type": "object",
        "properties": {
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentEncoding": "base64",
                "contentSchema": EVENT,
            },
        },
    }
    document = api(EVENT)
    document["paths"]["/track"]["post"]["requestBody"]["content"] = {
        "application/x-www-form-urlencoded": {"schema": form}
    }
    block = proposed(tmp_path, document)
    assert (block["event_field"], block["credential_field"]) == ("event", "api_key")
    assert block["identity"]["fields"][0] == {"name": "user_id", "kind": "user"}


def _method(document: dict[str, Any], method: str) -> dict[str, Any]:
    """The document with its one operation under another method."""
    [item] = document["paths"].values()
    item[method] = item.pop("post")
    return document


IDENTIFIER = {"name": "identifier", "in": "path", "required": True, "schema": {"type": "string"}}
EVENT_NAMED = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}


def test_a_contact_named_by_the_path_is_read_from_the_path_parameter(tmp_path: Path) -> None:
    path = "/customers/{identifier}/events"
    block = proposed(tmp_path, api(EVENT_NAMED, path=path, parameters=[IDENTIFIER]))
    # Always present: alone under first_present (lint wants it first; a body field after it is never read).
    assert block["identity"] == {
        "mode": "first_present",
        "fields": [{"name": "$request.path.identifier", "kind": "customer"}],
    }
    assert block["event_field"] == "name"
    user = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}}
    block = proposed(tmp_path, api(EVENT, path="/u/{user_id}/track", parameters=[user]))
    assert block["identity"]["fields"] == [{"name": "$request.path.user_id", "kind": "user"}]


def test_an_event_named_by_the_path_is_read_from_the_path_parameter(tmp_path: Path) -> None:
    collection = {"name": "collection", "in": "path", "required": True, "schema": {"type": "string"}}
    body = {"type": "object", "properties": {"user_id": {"type": "string"}}}
    block = proposed(tmp_path, api(body, path="/events/{collection}", parameters=[collection]))
    assert block["event_field"] == "$request.path.collection"
    assert block["identity"]["fields"] == [{"name": "user_id", "kind": "user"}]  # the body's, not the path's


def test_a_profile_update_by_put_is_one_event_name_with_the_whole_body_as_payload(tmp_path: Path) -> None:
    attributes = {
        "type": "object",
        "properties": {"email": {"type": "string"}, "name": {"type": "string"}},
        "additionalProperties": True,
    }
    document = _method(api(attributes, path="/customers/{identifier}", parameters=[IDENTIFIER]), "put")
    source = tmp_path / "vendor.yaml"
    source.write_text(yaml.safe_dump(document, sort_keys=False))
    [op] = infer.candidates(load_spec(source, ingest_required=False))  # a PUT is chosen too
    block = plain(infer.propose(op)[0])
    assert block["event_name"] == "identify"  # not the person's `name`
    assert block["payload"]["field"] == ""  # the attributes are the body's own members
    assert block["identity"]["fields"] == [{"name": "$request.path.identifier", "kind": "customer"}]
    # A PUT that names no contact, or something of a contact's other than its attributes, is none.
    colour = {"type": "object", "properties": {"colour": {"type": "string"}}}
    for path in ("/x", "/customers/{identifier}/settings"):
        parameters = [IDENTIFIER] if "{" in path else None
        source.write_text(yaml.safe_dump(_method(api(colour, path=path, parameters=parameters), "put")))
        assert infer.candidates(load_spec(source, ingest_required=False)) == [], path


def test_an_engage_call_is_a_profile_update_named_by_its_path(tmp_path: Path) -> None:
    body = {
        "type": "object",
        "properties": {"$distinct_id": {"type": "string"}, "$set": {"type": "object"}},
    }
    block = proposed(tmp_path, api(body, path="/engage", security={"type": "http", "scheme": "basic"}))
    assert block["event_name"] == "engage"
    assert block["identity"]["fields"] == [{"name": "$distinct_id"}]


KEYLESS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["event"],
        "properties": {
            "event": {"type": "string"},
            "properties": {
                "type": "object",
                "properties": {"token": {"type": "string"}, "distinct_id": {"type": "string"}},
            },
        },
    },
}


def test_a_keyless_collector_names_its_project_by_a_token_and_the_config_lists_tokens(tmp_path: Path) -> None:
    body = {"type": "object", "properties": {"events": KEYLESS}}
    requirements: list[list[dict[str, Any]]] = [[], [{}]]
    for security in requirements:
        document = api(body)
        document["paths"]["/track"]["post"]["security"] = security
        block = proposed(tmp_path, document)
        assert block["project_field"] == "/properties/token"
        assert "credential_field" not in block
    source = tmp_path / "vendor.yaml"
    source.write_text(yaml.safe_dump(document, sort_keys=False))
    config = yaml.safe_load(propose_file(source).config_text)
    assert [p.keys() for p in config["projects"]] == [{"id", "tokens"}] * 2  # no key is taken
    # With a security scheme the token is no project's name: the scheme carries the key.
    block = proposed(tmp_path, api(body, security={"type": "http", "scheme": "bearer"}))
    assert "project_field" not in block and "credential_field" not in block
    assert "api_keys" in yaml.safe_load(propose_file(tmp_path / "vendor.yaml").config_text)["projects"][0]


def test_a_batch_answered_with_text_is_all_or_nothing_and_no_todo(tmp_path: Path) -> None:
    body = {"type": "object", "properties": {"batch": {"type": "array", "items": EVENT}}}
    ok: dict[str, Any] = {"text/plain": {"schema": {"type": "string"}, "example": "OK"}}
    responses = {
        "200": {"description": "ok", "content": ok},
        "400": {"description": "bad", "content": {"application/json": {"schema": ERROR}}},
    }
    block, _ = infer.propose(operation(tmp_path, api(body, responses)))
    assert plain(block)["batch"]["response"] == {"status": 200, "text": "OK"}
    assert plain(block)["batch"]["acceptance"] == "all_or_nothing"
    assert not [t for t, _ in todos(block) if t.startswith("/batch")]
    # A text typed as an integer (Mixpanel's `1`) is no text lint can match: a TODO, the example kept.
    ok["text/plain"] = {"schema": {"type": "integer", "enum": [1, 0]}, "example": 1}
    block, _ = infer.propose(operation(tmp_path, api(body, responses)))
    assert plain(block)["batch"]["response"] == {"status": 200, "text": "1"}
    assert "/batch/response/text" in dict(todos(block))


def test_text_error_examples_are_the_catalogue_s_messages(tmp_path: Path) -> None:
    text = {"schema": {"type": "string"}}
    responses = {
        "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}},
        "400": {"description": "bad", "content": {"text/plain": {**text, "example": "Invalid request"}}},
        "401": {
            "description": "no",
            "content": {"text/plain": {**text, "example": "Invalid Authorization Header"}},
        },
    }
    catalogue = proposed(tmp_path, api(EVENT, responses))["errors"]["catalogue"]
    assert catalogue["invalid_request"] == {"status": 400, "message": "Invalid request"}
    assert catalogue["unauthorized"] == {"status": 401, "message": "Invalid Authorization Header"}


def test_an_event_field_the_schema_does_not_require_is_a_todo(tmp_path: Path) -> None:
    optional = {**EVENT, "required": []}
    block, _ = infer.propose(operation(tmp_path, api(optional)))
    assert "/event_field" in dict(todos(block)) and plain(block)["event_field"] == "event"


def test_operations_documenting_other_error_bodies_get_one_envelope_to_pick(tmp_path: Path) -> None:
    document = api(EVENT)
    other = {"type": "object", "properties": {"error": {"type": "string"}}}
    second = json.loads(json.dumps(document["paths"]["/track"]["post"]))
    second["operationId"] = "import"
    second["responses"]["400"]["content"]["application/json"]["schema"] = other
    document["paths"]["/import"] = {"post": second}
    source = tmp_path / "vendor.yaml"
    source.write_text(yaml.safe_dump(document, sort_keys=False))
    first, later = propose_file(source).proposals
    assert not [t for t, _ in first.todos if t.endswith("/x-ingest/errors")]
    assert [t for t, _ in later.todos if t == "/paths/~1import/post/x-ingest/errors"]
