"""What the server templates are given: routes, parameters, schemes, media types, numeric answers."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ingestspec.generator.generate import context
from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.migrate import upgrade
from ingestspec.generator.spec.model import Operation, ResponseShape
from tests.conftest import SPECS
from tests.specs import edited


def _operation(tmp_path: Path, edit: Any) -> Operation:
    return load_spec(edited(tmp_path, "sendrealm", edit)).ingest_operations[0]


def test_path_parameters_get_route_slots(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["paths"]["/events/{message-id}/{kind}"] = document["paths"].pop("/events")

    op = _operation(tmp_path, edit)
    assert context.route("/v1", op) == ("/v1/events/{p0}/{p1}", {"message-id": "p0", "kind": "p1"})


def test_credential_and_ignored_headers_are_not_checked_as_parameters(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["components"]["securitySchemes"]["key"] = {"type": "apiKey", "in": "query", "name": "key"}
        operation = document["paths"]["/events"]["post"]
        operation["security"] = [{"bearerAuth": []}, {"key": []}]
        operation["parameters"] = [
            {"name": name, "in": where, "schema": {"type": "string"}}
            for name, where in [("Authorization", "header"), ("Content-Type", "header"), ("key", "query")]
        ] + [{"name": "X-Trace", "in": "header", "schema": {"type": "integer"}}]

    op = _operation(tmp_path, edit)
    assert [p["name"] for p in context.parameters(op, {})] == ["X-Trace"]
    assert context.schemes(op) == (("bearer", "", ""), ("query", "key", ""))
    assert context.challenge(op, "Sendrealm") == {"WWW-Authenticate": "Bearer"}


def test_basic_challenges_name_a_realm(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["components"]["securitySchemes"]["basic"] = {"type": "http", "scheme": "Basic"}
        document["paths"]["/events"]["post"]["security"] = [{"basic": []}, {"bearerAuth": []}]

    op = _operation(tmp_path, edit)
    assert context.challenge(op, 'My "API"') == {"WWW-Authenticate": 'Basic realm="My API", Bearer'}


def test_an_api_key_header_has_no_challenge(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["components"]["securitySchemes"]["key"] = {"type": "apiKey", "in": "header", "name": "X-Key"}
        document["paths"]["/events"]["post"]["security"] = [{"key": []}]

    assert context.challenge(_operation(tmp_path, edit), "Sendrealm") is None


def test_media_types_lose_their_parameters_and_case(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        content = document["paths"]["/events"]["post"]["requestBody"]["content"]
        content["Application/Vnd.Acme+JSON; charset=utf-8"] = content["application/json"]

    op = _operation(tmp_path, edit)
    assert context.media_types(op) == ("application/json", "application/vnd.acme+json")


def test_numeric_fields_follow_the_response_schema(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        properties = document["components"]["schemas"]["EventAccepted"]["properties"]
        properties["resolved_identity_value"] = {"type": "integer"}
        properties["event"] = {"type": ["integer", "string"]}

    op = _operation(tmp_path, edit)
    assert op.ingest is not None
    schema, media_type = context.response_schema(op, 202)
    assert media_type == "application/json"
    numeric = context.numeric_fields(op.ingest.response, schema)
    assert numeric == {
        "id": False,
        "event": False,  # a string is allowed: the stored text is answered as it is
        "resolved_identity_type": False,
        "resolved_identity_value": True,
        "occurred_at": False,
    }


def test_one_ingest_operation_keeps_the_plain_module_names() -> None:
    spec = load_spec(SPECS["sendrealm"])
    assert context.modules(spec) == {"ingestEvent": context.Modules("ingest", "schema")}


def test_several_ingest_operations_get_modules_named_after_them() -> None:
    spec = load_spec(Path(__file__).resolve().parent.parent / "generated_server" / "specs" / "tracker.yaml")
    assert {op: m.name for op, m in context.modules(spec).items()} == {
        "track": "ingest_track",
        "identify": "ingest_identify",
        "page": "ingest_page",
        "batch": "ingest_batch",
    }
    assert context.read_modules(spec) == {"getEvent": "read"}
    assert [context.identifier(n) for n in ("trackEvent", "send-Batch", "2fa")] == [
        "track_event",
        "send_batch",
        "op_2fa",
    ]


def test_concrete_paths_are_routed_before_templated_ones(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        operation = document["paths"].pop("/events")["post"]
        templated = copy.deepcopy(operation)
        templated["operationId"] = "ingestKind"
        templated["parameters"] = [
            {"name": "kind", "in": "path", "required": True, "schema": {"type": "string"}}
        ]
        document["paths"]["/events/{kind}"] = {"post": templated}
        document["paths"]["/events/batch"] = {"post": operation}

    spec = load_spec(edited(tmp_path, "sendrealm", edit))
    assert [op.path for op in spec.ingest_operations] == ["/events/{kind}", "/events/batch"]
    assert context.endpoints(spec) == [("ingest_ingest_event", "Ingest"), ("ingest_ingest_kind", "Ingest")]


def test_framing_is_decided_from_the_spec(tmp_path: Path) -> None:
    """Content codings, the basic key's part, text or empty answers and epoch text, per operation."""

    def edit(document: dict[str, Any]) -> None:
        document["components"]["securitySchemes"]["site"] = {
            "type": "http",
            "scheme": "basic",
            "x-ingest-basic": "both",
        }
        operation = document["paths"]["/events"]["post"]
        operation["security"] = [{"site": []}]
        operation["parameters"] = [
            {"name": "content-encoding", "in": "header", "schema": {"enum": ["GZIP", "identity", "deflate"]}},
            {"name": "X-Trace", "in": "header", "schema": {"type": "integer"}},
        ]
        request = document["components"]["schemas"]["IngestEventRequest"]["properties"]
        request["occurred_at"] = {"type": ["integer", "string"], "pattern": "^[0-9]+$"}
        operation["x-ingest"] = {**upgrade(operation["x-ingest"]), "occurred_at_unit": "milliseconds"}

    op = _operation(tmp_path, edit)
    assert op.content_codings == ("gzip", "deflate")
    assert [p["name"] for p in context.parameters(op, {})] == ["X-Trace"]
    assert context.schemes(op) == (("basic", "both", ""),)
    assert context.epoch_as_text(op)
    plain = load_spec(SPECS["sendrealm"]).ingest_operations[0]
    assert plain.content_codings == () and not context.epoch_as_text(plain)
    assert plain.ingest is not None
    assert context.constant_body(plain.ingest.response) is None
    empty = ResponseShape(204, (), has_body=False)
    text = ResponseShape(200, (), text="OK")
    assert (context.constant_body(empty), context.constant_body(text)) == (b"", b"OK")
    assert context.answer_media_type(empty, "application/json") is None
    assert context.answer_media_type(text, "text/plain") == "text/plain"


def test_a_number_declared_through_allof_is_answered_as_a_number(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        accepted = document["components"]["schemas"]["EventAccepted"]
        answered = accepted["properties"].pop("resolved_identity_value")
        accepted["allOf"] = [{"properties": {"resolved_identity_value": {**answered, "type": "integer"}}}]

    op = _operation(tmp_path, edit)
    assert op.ingest is not None
    schema, _ = context.response_schema(op, op.ingest.response.status)
    assert context.numeric_fields(op.ingest.response, schema)["resolved_identity_value"] is True
