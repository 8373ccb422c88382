"""`ingestspec lint` passes the real specs and names, with its location, what is wrong in broken copies.

Each broken copy changes one thing; the test finds the problem by its JSON pointer and checks that
the line and column it gives are where that pointer's key (or item) is written in the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ingestspec.generator.cli.main import main
from ingestspec.generator.lint.linter import Problem, lint
from ingestspec.generator.spec.locate import escape
from ingestspec.generator.spec.migrate import upgrade
from tests.conftest import SPECS
from tests.specs import edited, op, x_ingest

Edit = Callable[[dict[str, Any]], None]
OPERATIONS = {"arsel": "/paths/~1events~1send/post", "sendrealm": "/paths/~1events/post"}


def test_the_real_specs_are_sound(api: str) -> None:
    assert lint(SPECS[api]) == []


def v2(edit: Edit) -> Edit:
    """`edit` applied after the spec's x-ingest block is upgraded to version 2."""

    def both(document: dict[str, Any]) -> None:
        op(document)["x-ingest"] = upgrade(x_ingest(document))
        edit(document)

    return both


def scheme(name: str, declaration: dict[str, Any]) -> Edit:
    """Every operation secured by one scheme, declared as given."""

    def edit(document: dict[str, Any]) -> None:
        document["components"]["securitySchemes"] = {name: declaration}
        document["security"] = [{name: []}]

    return edit


def request_property(name: str, schema: dict[str, Any]) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        body = op(document)["requestBody"]["content"]["application/json"]
        request = document["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[-1]]
        request["properties"][name] = schema
        for example in (body.get("examples") or {}).values():
            example["value"].pop(name, None)

    return edit


def add(where: Callable[[dict[str, Any]], dict[str, Any]], **members: Any) -> Edit:
    return lambda document: where(document).update(members)


def two_envelopes(document: dict[str, Any]) -> None:
    second_operation(document, "post", with_ingest=True)
    document["paths"]["/other"]["post"]["x-ingest"]["errors"]["catalogue"]["unauthorized"]["status"] = 403


def content_encoding(**schema: Any) -> Edit:
    """The ingest operation takes a Content-Encoding header parameter of this schema (optional unless
    `required` is given)."""
    required = schema.pop("required", False)
    parameter = {"name": "Content-Encoding", "in": "header", "required": required, "schema": schema}
    return lambda document: op(document).setdefault("parameters", []).append(parameter)


def epoch_boolean(document: dict[str, Any]) -> None:
    """Epoch seconds read from a field typed boolean."""
    request_property(x_ingest(document)["occurred_at_field"], {"type": "boolean"})(document)
    x_ingest(document).update(occurred_at_unit="seconds")


def answered(status: int, content: dict[str, Any] | None, **shape: Any) -> Edit:
    """The success answer is `status` with this x-ingest shape, documented with `content` (None: none)."""

    def edit(document: dict[str, Any]) -> None:
        responses = op(document)["responses"]
        documented = responses.pop("202")
        documented.pop("content")
        responses[str(status)] = {**documented, **({"content": content} if content else {})}
        x_ingest(document)["response"] = {"status": status, **shape}

    return edit


def ref_cycle(document: dict[str, Any]) -> None:
    document["components"]["schemas"]["Loop"] = {"$ref": "#/components/schemas/Loop"}
    op(document)["requestBody"]["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/Loop"
    }


def batch(document: dict[str, Any]) -> None:
    shape = {"status": 202, "fields": {"accepted": {"source": "accepted"}}}
    v2(add(x_ingest, batch={"items_field": "events", "max_items": 100, "response": shape}))(document)


def read_operation(document: dict[str, Any]) -> None:
    document["paths"]["/events/{id}"] = {
        "get": {
            "operationId": "getEvent",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "200": {"description": "The event", "content": {"application/json": {"schema": {}}}}
            },
            "x-ingest-read": {
                "version": 2,
                "id_parameter": "id",
                "not_found_error": "route_not_found",
                "response": {"status": 200, "fields": {"id": {"source": "id"}}},
            },
        }
    }


def read_operation_with(change: Callable[[dict[str, Any]], None]) -> Edit:
    """The read operation of `read_operation`, changed."""

    def edit(document: dict[str, Any]) -> None:
        read_operation(document)
        change(document["paths"]["/events/{id}"]["get"])

    return edit


def second_operation(document: dict[str, Any], method: str, with_ingest: bool) -> None:
    copy = yaml.safe_load(yaml.safe_dump(op(document)))
    copy["operationId"] = "another"
    if not with_ingest:
        copy.pop("x-ingest")
    document["paths"]["/other"] = {method: copy}


BEARER = {"type": "http", "scheme": "bearer"}
OAUTH = {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "https://x.test/token", "scopes": {}}}}


def two_schemes(document: dict[str, Any]) -> None:
    header = {"type": "apiKey", "in": "header", "name": "K"}
    document["components"]["securitySchemes"] = {"a": BEARER, "b": header}
    document["security"] = [{"a": [], "b": []}]


# case -> (edit, where the problem is: a pointer, "{op}" standing for the ingest operation's, a message part)
BROKEN: dict[str, tuple[Edit, str, str]] = {
    # The limiter keeps each admitted time per key: 10^6 a window once failed at start-up (EFBIG).
    "a rate limit wider than the limiter keeps": (
        v2(add(x_ingest, rate_limit={"requests": 1_000_000, "per_seconds": 1})),
        "{op}/x-ingest/rate_limit/requests",
        "1000000 is greater than the maximum of 10000",
    ),
    "an x-ingest-basic part that is not one": (
        scheme("siteCredentials", {"type": "http", "scheme": "basic", "x-ingest-basic": "secret"}),
        "/components/securitySchemes/siteCredentials/x-ingest-basic",
        "x-ingest-basic is 'secret', not one of user, password, both",
    ),
    "a 204 documented with a JSON body": (
        v2(
            answered(
                204, {"application/json": {"schema": {"type": "object"}}}, fields={"id": {"source": "id"}}
            )
        ),
        "{op}/responses/204/content",
        "a 204 answer has no body (RFC 9110), but it is documented with application/json content",
    ),
    "a 204 answered with fields": (
        v2(answered(204, None, fields={"id": {"source": "id"}})),
        "{op}/responses/204",
        "204 documents no body, but x-ingest answers one",
    ),
    "no body where one is documented": (
        v2(answered(202, {"application/json": {"schema": {"type": "object"}}})),
        "{op}/x-ingest/response",
        "202 is documented with a application/json body, but x-ingest answers none",
    ),
    "a text answer documented as JSON that is not JSON": (
        v2(answered(202, {"application/json": {"schema": {"type": "object"}}}, text="OK")),
        "{op}/x-ingest/response",
        "the x-ingest text 'OK' is not JSON",
    ),
    "a text answer its schema refuses": (
        v2(answered(202, {"text/plain": {"schema": {"type": "string", "enum": ["OK"]}}}, text="KO")),
        "{op}/x-ingest/response/text",
        "the 202 text 'KO' does not match the documented schema",
    ),
    "a content coding the server cannot decode": (
        content_encoding(type="string", enum=["gzip", "br"]),
        "{op}/parameters/0/schema/enum/1",
        "content coding 'br' is not implemented (only identity, gzip, deflate)",
    ),
    "a Content-Encoding without an enum": (
        content_encoding(type="string"),
        "{op}/parameters/0",
        "Content-Encoding needs an `enum` of the codings accepted",
    ),
    "a required Content-Encoding": (
        content_encoding(type="string", enum=["gzip"], required=True),
        "{op}/parameters/0",
        "a required Content-Encoding is not implemented",
    ),
    "example breaks its schema": (
        lambda d: op(d)["requestBody"]["content"]["application/json"]["examples"]["curl"]["value"].update(
            event=7
        ),
        "{op}/requestBody/content/application~1json/examples/curl/value/event",
        "request example 'curl'",
    ),
    "x-ingest breaks its schema": (
        lambda d: x_ingest(d)["identity"].update(mode="any"),
        "{op}/x-ingest/identity/mode",
        "x-ingest.identity.mode: 'any' is not one of",
    ),
    "x-ingest key misspelt": (
        add(x_ingest, occured_at_field="timestamp"),
        "{op}/x-ingest/occured_at_field",
        "unknown key 'occured_at_field' (did you mean 'occurred_at_field'?)",
    ),
    "x-ingest version 2 key misspelt": (
        v2(lambda d: x_ingest(d)["errors"].update(mesage="/message")),
        "{op}/x-ingest/errors/mesage",
        "(did you mean 'message'?)",
    ),
    "error without a documented status": (
        lambda d: x_ingest(d)["errors"]["catalogue"]["payload_invalid"].update(status=409),
        "{op}/x-ingest/errors/catalogue/payload_invalid/status",
        "answers 409, which is not a documented response",
    ),
    "error body breaks the documented schema": (
        lambda d: x_ingest(d)["errors"].update(status_field="code"),
        "{op}/x-ingest/errors/catalogue/unauthorized",
        "error 'unauthorized' body",
    ),
    "x-ingest names an absent field": (
        lambda d: x_ingest(d)["payload"].update(field="body"),
        "{op}/x-ingest/payload/field",
        "request field 'body'",
    ),
    "unknown catalogue key": (
        lambda d: x_ingest(d)["payload"].update(mismatch_error="nope"),
        "{op}/x-ingest/payload/mismatch_error",
        "refers to error 'nope'",
    ),
    "a $ref that points nowhere": (
        lambda d: op(d)["requestBody"]["content"]["application/json"].update(
            schema={"$ref": "#/components/schemas/Nope"}
        ),
        "{op}/requestBody/content/application~1json/schema/$ref",
        "#/components/schemas/Nope does not resolve",
    ),
    "a $ref to another file": (
        lambda d: op(d)["requestBody"]["content"]["application/json"].update(
            schema={"$ref": "other.yaml#/X"}
        ),
        "{op}/requestBody/content/application~1json/schema/$ref",
        "only local references are supported, got other.yaml#/X",
    ),
    "a $ref cycle": (
        ref_cycle,
        "/components/schemas/Loop/$ref",  # the $ref that closes the cycle
        "recursive $ref #/components/schemas/Loop is not supported",
    ),
    "not OpenAPI": (lambda d: d.pop("info"), "", 'OpenAPI: "info" is a required property'),
    # What the generated server does not implement is refused (generator/lint/unsupported.py).
    "oauth2": (scheme("oauth", OAUTH), "/components/securitySchemes/oauth", "is oauth2: the server takes"),
    "openIdConnect": (
        scheme("oidc", {"type": "openIdConnect", "openIdConnectUrl": "https://x.test/.well-known"}),
        "/components/securitySchemes/oidc",
        "is openIdConnect: the server takes its bearer token as an API key",
    ),
    "mutualTLS": (scheme("mtls", {"type": "mutualTLS"}), "/components/securitySchemes/mtls", "is mutualTLS"),
    "http digest": (
        scheme("digest", {"type": "http", "scheme": "digest"}),
        "/components/securitySchemes/digest",
        "is http digest",
    ),
    "a requirement of two schemes": (
        two_schemes,
        "/security/0",
        "combining several schemes (a, b)",
    ),
    "an undeclared scheme": (
        lambda d: d.update(security=[{"nope": []}]),
        "/security/0/nope",
        "names scheme 'nope', which components.securitySchemes does not declare",
    ),
    "no key at all": (lambda d: d.pop("security"), "{op}", "needs an API key on every request"),
    "an optional key": (
        lambda d: (
            d.update(security=[{"apiKey": []}, {}])
            if "apiKey" in d["components"]["securitySchemes"]
            else d.update(security=[{"bearerAuth": []}, {}])
        ),
        "/security",
        "without an empty alternative",
    ),
    "a key in the body and a security scheme": (
        v2(lambda d: x_ingest(d).update(credential_field="event")),
        "{op}/x-ingest/credential_field",
        "the key is declared twice",
    ),
    "a request media type that is not JSON": (
        lambda d: op(d)["requestBody"]["content"].update({"text/plain": {"schema": {"type": "string"}}}),
        "{op}/requestBody/content/text~1plain",
        "request media type 'text/plain' is not implemented",
    ),
    "callbacks": (
        add(
            op,
            callbacks={
                "done": {"{$request.body#/url}": {"post": {"responses": {"200": {"description": "ok"}}}}}
            },
        ),
        "{op}/callbacks",
        "callbacks are not implemented",
    ),
    "webhooks": (
        lambda d: d.update(webhooks={"newEvent": {"post": {"responses": {"200": {"description": "ok"}}}}}),
        "/webhooks/newEvent",
        "webhooks are not implemented",
    ),
    "a cookie parameter": (
        add(op, parameters=[{"name": "session", "in": "cookie", "schema": {"type": "string"}}]),
        "{op}/parameters/0",
        "cookie parameter 'session' is not implemented",
    ),
    "an array query parameter": (
        add(
            op,
            parameters=[
                {"name": "tags", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}}
            ],
        ),
        "{op}/parameters/0",
        "query parameter 'tags' is an array or object",
    ),
    "a parameter given by content": (
        add(op, parameters=[{"name": "q", "in": "query", "content": {"application/json": {"schema": {}}}}]),
        "{op}/parameters/0",
        "query parameter 'q' has no `schema`",
    ),
    "a path parameter not in the path": (
        add(op, parameters=[{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]),
        "{op}/parameters/0",
        "path parameter 'id' is not in the path",
    ),
    "a request media type range": (
        lambda d: op(d)["requestBody"]["content"].update(
            {"application/*+json": op(d)["requestBody"]["content"]["application/json"]}
        ),
        "{op}/requestBody/content/application~1*+json",
        "request media type range 'application/*+json' is not implemented",
    ),
    "an optional request body": (
        lambda d: op(d)["requestBody"].update(required=False),
        "{op}/requestBody",
        "a request without one is answered 'malformed_json'",
    ),
    "an event field the schema does not require": (
        lambda d: d["components"]["schemas"][
            op(d)["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        ]["required"].remove(op(d)["x-ingest"]["event_field"]),
        "{op}/x-ingest/event_field",
        "must be in the request schema's `required`",
    ),
    "a read operation": (
        lambda d: second_operation(d, "get", with_ingest=False),
        "/paths/~1other/get",
        "another (GET /other) has neither x-ingest nor x-ingest-read",
    ),
    "a read operation whose id is no path parameter": (
        read_operation_with(lambda read: read["x-ingest-read"].update(id_parameter="eventId")),
        "/paths/~1events~1{id}/get/x-ingest-read/id_parameter",
        "getEvent: id_parameter 'eventId' is not a path parameter of the operation",
    ),
    "a read operation without a key": (
        read_operation_with(lambda read: read.update(security=[])),
        "/paths/~1events~1{id}/get",
        "getEvent: a read operation needs an API key on every request",
    ),
    "a batch answer the schema refuses": (
        batch,
        "{op}/x-ingest/batch/response",
        "the 202 body the server answers a batch with (here one refused item) cannot match",
    ),
    "a success response that is not JSON": (
        lambda d: op(d)["responses"][str(x_ingest(d)["response"]["status"])].update(
            content={"text/plain": {"schema": {"type": "string"}}}
        ),
        "{op}/responses/202/content/text~1plain",
        "202 is documented as text/plain, but the server answers JSON",
    ),
    "a header on the success response": (
        lambda d: x_ingest(d)["response"].update(header="X-Accepted"),
        "{op}/x-ingest/response/header",
        "a header on the success response is not implemented",
    ),
    "a required response header the server never sends": (
        lambda d: op(d)["responses"]["202"].update(
            headers={"X-Request-Id": {"required": True, "schema": {"type": "string"}}}
        ),
        "{op}/responses/202/headers/X-Request-Id",
        "the 202 response's required header 'X-Request-Id' is never sent",
    ),
    "servers on an operation": (
        add(op, servers=[{"url": "https://other.test/v2"}]),
        "{op}/servers",
        "servers on a path or operation are not implemented",
    ),
    "two ingest operations with different error envelopes": (
        two_envelopes,
        "/paths/~1other/post/x-ingest/errors",
        "x-ingest errors differs from",
    ),
    "a 429 without a rate limit": (
        lambda d: op(d)["responses"].update({"429": {"description": "Too many requests"}}),
        "{op}/responses/429",
        "429 is documented but the server never answers it",
    ),
    "an identity field of type boolean": (
        lambda d: request_property(x_ingest(d)["identity"]["fields"][0]["name"], {"type": "boolean"})(d),
        "{op}/x-ingest/identity/fields/0/name",
        "must be typed string, integer or number, not boolean",
    ),
    "an epoch unit on a string field with no pattern": (
        v2(add(x_ingest, occurred_at_unit="milliseconds")),
        "{op}/x-ingest/occurred_at_unit",
        "only when its schema has a `pattern` of digits",
    ),
    "an epoch unit on a boolean field": (
        v2(epoch_boolean),
        "{op}/x-ingest/occurred_at_unit",
        "typed integer or number, not boolean",
    ),
    "an RFC 3339 time in an integer field": (
        lambda d: request_property(x_ingest(d)["occurred_at_field"], {"type": "integer"})(d),
        "{op}/x-ingest/occurred_at_field",
        "must be a string with format date-time, not integer",
    ),
    "a success body the schema refuses": (
        v2(add(x_ingest, id_prefix="evt_")),
        "{op}/x-ingest/response",
        "cannot match the documented schema",
    ),
    "an idempotency key header the operation does not declare": (
        v2(
            add(
                x_ingest,
                dedupe={
                    "key": {"in": "header", "name": "Idempotency-Key"},
                    "scope": "project",
                    "replay": {"status": 202, "fields": {"id": {"source": "id"}}},
                },
            )
        ),
        "{op}/x-ingest/dedupe/key",
        "header parameter 'Idempotency-Key', which the operation does not declare",
    ),
}


def assert_located(path: Path, problem: Problem, pointer: str) -> None:
    """The problem is about `pointer`, and its line and column are where that member is written."""
    assert problem.file == str(path)
    assert problem.pointer == pointer
    line = path.read_text().splitlines()[problem.line - 1]
    tail = pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
    written = line[problem.column - 1 :]
    if not pointer:
        assert (problem.line, problem.column) == (1, 1)
    elif not written.lstrip("'\"").startswith(tail):  # an array item, at its dash or its value
        assert tail.isdigit() and line[: problem.column - 1].rstrip().endswith("-"), (line, problem)


def assert_refused_at(path: Path, fragment: str, pointer: str) -> None:
    """Lint reports a problem of `path` whose message holds `fragment`, located at `pointer`."""
    problems = [p for p in lint(path) if fragment in p.message]
    assert problems, lint(path)
    assert_located(path, problems[0], pointer)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_lint_names_the_problem_and_its_place(tmp_path: Path, api: str, case: str) -> None:
    edit, where, expected = BROKEN[case]
    path = edited(tmp_path, api, edit)
    problems = lint(path)
    pointer = where.replace("{op}", OPERATIONS[api])
    matching = [p for p in problems if expected in p.message]
    assert matching, problems
    assert_located(path, matching[0], pointer)
    found = matching[0]
    assert str(found).startswith(
        f"{path}:{found.line}:{found.column}: {found.severity} {found.rule}: #{pointer}: "
    )


def test_a_vendor_json_media_type_and_supported_schemes_are_accepted(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        content = op(document)["requestBody"]["content"]
        content["application/vnd.arsel+json; charset=utf-8"] = content["application/json"]
        document["components"]["securitySchemes"] = {
            "bearer": BEARER,
            "basic": {"type": "http", "scheme": "Basic"},
            "header": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            "query": {"type": "apiKey", "in": "query", "name": "api_key"},
        }
        document["security"] = [{"bearer": []}, {"basic": []}, {"header": []}, {"query": []}]

    assert lint(edited(tmp_path, "arsel", edit)) == []


def test_an_integer_identity_is_answered_as_the_response_schema_says(tmp_path: Path) -> None:
    # The server stores identities as text: a string in the response schema takes 42 as "42".
    integer_id = request_property("contact_id", {"type": "integer"})
    assert lint(edited(tmp_path, "sendrealm", integer_id)) == []

    def integer_answer(document: dict[str, Any]) -> None:
        integer_id(document)
        accepted = document["components"]["schemas"]["EventAccepted"]
        accepted["properties"]["resolved_identity_value"] = {"type": "integer"}
        for status in ("200", "202"):
            op(document)["responses"][status]["content"]["application/json"].pop("examples", None)

    problems = [str(p) for p in lint(edited(tmp_path, "sendrealm", integer_answer, "answer"))]
    assert len(problems) == 1, problems
    assert "the 202 body the server builds for identity 'external_id', 'email' cannot match" in problems[0]
    assert "contact_id" not in problems[0].split("cannot match")[0]  # 42 is an integer


def test_required_headers_the_server_sends_are_accepted(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        required = {"required": True, "schema": {"type": "string"}}
        op(document)["responses"]["401"]["headers"] = {"WWW-Authenticate": required}
        op(document)["responses"]["503"]["headers"] = {"Retry-After": required}
        op(document)["responses"]["200"]["headers"] = {"Idempotent-Replayed": required}

    assert lint(edited(tmp_path, "sendrealm", edit)) == []


def test_a_batch_names_the_fields_of_its_items(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        media = op(document)["requestBody"]["content"]["application/json"]
        item = media["schema"]
        media["schema"] = {"type": "object", "properties": {"events": {"type": "array", "items": item}}}
        for example in media["examples"].values():
            example["value"] = {"events": [example["value"]]}
        shape = {"status": 202, "fields": {"accepted": {"source": "accepted"}}}
        v2(add(x_ingest, batch={"items_field": "events", "max_items": 100, "response": shape}))(document)

    problems = lint(edited(tmp_path, "arsel", edit))
    assert [p.message.split(": at ")[0] for p in problems] == [
        "sendEvent: the batch answer cannot say which items were refused (it has no `results`), so "
        "answering it would acknowledge items that were not stored: set `acceptance: all_or_nothing` "
        "(a refused item refuses the whole batch) or answer `results`",
        "sendEvent: the 202 body the server answers a batch with (here one refused item) cannot match the "
        "documented schema",
    ]

    def elsewhere(document: dict[str, Any]) -> None:
        edit(document)
        x_ingest(document)["batch"]["items_field"] = "data"

    problems = lint(edited(tmp_path, "arsel", elsewhere, "data"))
    messages = [p.message for p in problems]
    assert "sendEvent: batch items_field 'data' is not an array of the request schema" in messages
    assert "sendEvent: x-ingest names request field 'email', which the batch item's schema lacks" in messages


def test_a_yaml_syntax_error_is_located_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("openapi: 3.1.0\ninfo:\n  title: [unclosed\n  version: 1\n")
    (problem,) = lint(path)
    assert (problem.line, problem.column) > (3, 1)
    assert problem.message.startswith("not valid YAML: ")
    result = CliRunner().invoke(main, ["lint", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{path}:{problem.line}:{problem.column}:" in result.output


def test_a_json_spec_is_located_too(tmp_path: Path) -> None:
    document = yaml.safe_load(SPECS["arsel"].read_text())
    x_ingest(document)["identity"]["mode"] = "any"
    path = tmp_path / "arsel.json"
    path.write_text(json.dumps(document, indent=2))
    (problem,) = lint(path)
    pointer = OPERATIONS["arsel"] + "/x-ingest/identity/mode"
    assert problem.pointer == pointer
    assert path.read_text().splitlines()[problem.line - 1][problem.column - 1 :].startswith('"mode": "any"')


def test_cli_exit_codes_and_json_output(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["lint", "arsel", "sendrealm"])
    assert ok.exit_code == 0, ok.output
    broken = edited(tmp_path, "arsel", BROKEN["unknown catalogue key"][0])
    bad = runner.invoke(main, ["lint", str(broken)])
    assert bad.exit_code == 1
    assert "refers to error 'nope'" in bad.output
    as_json = runner.invoke(main, ["lint", "arsel", str(broken), "--format", "json"])
    assert as_json.exit_code == 1
    reported = json.loads(as_json.output[: as_json.output.rindex("]") + 1])
    assert [sorted(r) for r in reported] == [
        ["column", "file", "line", "message", "pointer", "rule", "severity"]
    ]
    assert (reported[0]["rule"], reported[0]["severity"]) == ("catalogue-has-key", "error")
    assert reported[0]["file"] == str(broken)
    assert reported[0]["pointer"] == OPERATIONS["arsel"] + "/x-ingest/payload/mismatch_error"
    missing = runner.invoke(main, ["lint", "no-such-api"])
    assert missing.exit_code == 2


def test_generate_lints_first_and_writes_nothing(tmp_path: Path) -> None:
    broken = edited(tmp_path, "arsel", BROKEN["mutualTLS"][0])
    out = tmp_path / "server"
    result = CliRunner().invoke(main, ["generate", str(broken), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "1 lint error(s); nothing was generated" in result.output
    assert "#/components/securitySchemes/mtls: security scheme 'mtls' is mutualTLS" in result.output
    assert "error security-scheme-types:" in result.output
    assert not out.exists()


def test_pointers_escape_as_rfc_6901_says() -> None:
    assert escape("/events/{id}") == "~1events~1{id}"
    assert escape("a~b") == "a~0b"


def test_a_recursive_component_is_refused_only_where_an_operation_uses_it(tmp_path: Path) -> None:
    node = {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Node"}}}
    unused = edited(tmp_path, "arsel", lambda d: d["components"]["schemas"].update(Node=node))
    assert lint(unused) == []

    def used(document: dict[str, Any]) -> None:
        document["components"]["schemas"]["Node"] = node
        document["components"]["schemas"]["SendEventRequest"]["properties"]["data"] = {
            "$ref": "#/components/schemas/Node"
        }

    (problem,) = lint(edited(tmp_path, "arsel", used, "used"))
    assert problem.rule == "ref-not-recursive"
    assert problem.message == "recursive $ref #/components/schemas/Node is not supported"


MALFORMED: dict[str, Edit] = {
    "paths null": lambda d: d.update(paths=None),
    "an operation that is a string": lambda d: next(iter(d["paths"].values())).update(post="oops"),
    "a schema that is a list": lambda d: d["components"]["schemas"].update(SendEventRequest=[1]),
    "examples that are a list": lambda d: op(d)["requestBody"]["content"]["application/json"].update(
        examples=[1]
    ),
    "parameters that are a mapping": lambda d: op(d).update(parameters={"a": 1}),
    "a response that is a string": lambda d: op(d)["responses"].update({"401": "x"}),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_document_is_located_without_a_traceback(tmp_path: Path, case: str) -> None:
    path = edited(tmp_path, "arsel", MALFORMED[case])
    problems = lint(path)
    assert problems and all(p.rule == "openapi-schema" or p.pointer == "/paths" for p in problems), problems
    assert all(p.line > 1 for p in problems if p.pointer), problems
    result = CliRunner().invoke(main, ["lint", str(path)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # click's exit, not a crash
    assert "Traceback" not in result.output


def test_fields_declared_and_required_through_allof_and_anyof_are_named(tmp_path: Path) -> None:
    """Issue 20: vendors declare and require fields inside `allOf`/`anyOf` branches."""

    def branches(document: dict[str, Any]) -> None:
        schemas = document["components"]["schemas"]
        request = schemas["SendEventRequest"]
        timestamp = request["properties"].pop("timestamp")
        request["required"].remove("event")
        schemas["Timed"] = {"type": "object", "properties": {"timestamp": timestamp}}
        request["allOf"] = [
            {"$ref": "#/components/schemas/Timed"},
            {"anyOf": [{"required": ["event", "email"]}, {"required": ["event", "contact_id"]}]},
        ]
        request.pop("additionalProperties")

    assert lint(edited(tmp_path, "arsel", branches)) == []


VENDOR30 = Path(__file__).parent / "vendor30" / "track.yaml"


def _vendor30(tmp_path: Path, old: str, new: str) -> Path:
    text = VENDOR30.read_text()
    assert old in text
    path = tmp_path / "track.yaml"
    path.write_text(text.replace(old, new))
    return path


def test_an_example_that_breaks_its_schema_is_a_warning_unless_strict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _vendor30(tmp_path, "value: 12.5\n", "value: -1\n")
    [problem] = lint(path)
    assert (problem.rule, problem.severity) == ("examples-match-their-schema", "warning")
    assert problem.pointer.endswith("/example/value")
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["lint", "track.yaml"]).exit_code == 0
    assert CliRunner().invoke(main, ["lint", "--strict", "track.yaml"]).exit_code == 1


def test_example_null_is_said_to_document_nothing(tmp_path: Path) -> None:
    path = _vendor30(
        tmp_path,
        "event: {type: string, minLength: 1, maxLength: 1024, example: Signed Up}",
        "event: {type: string, minLength: 1, maxLength: 1024, example: null}",
    )
    [problem] = lint(path)
    assert (problem.rule, problem.severity) == ("examples-match-their-schema", "warning")
    assert problem.pointer == "/components/schemas/Track/properties/event/example"
    assert "`example: null` documents no example" in problem.message


def test_a_base_path_repeated_in_every_path_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = _vendor30(tmp_path, "url: https://api.trackly.example\n", "url: https://api.trackly.example/v2\n")
    [problem] = lint(path)
    assert (problem.rule, problem.pointer) == ("base-path-not-repeated", "/servers/0/url")
    assert "/v2/track would be served at /v2/v2/track; remove /v2 from the server URL" in problem.message


def test_an_empty_security_requirement_is_no_second_key(tmp_path: Path) -> None:
    assert lint(_vendor30(tmp_path, "security: []\n", "security: [{}]\n")) == []

    def body_key_and_bearer(document: dict[str, Any]) -> None:
        document["components"] = {
            **document["components"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        }
        document["security"] = [{}, {"bearer": []}]

    path = tmp_path / "both.yaml"
    document = yaml.safe_load(VENDOR30.read_text())
    body_key_and_bearer(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    [problem] = lint(path)
    assert problem.rule == "ingest-needs-a-key"
    assert "by x-ingest credential_field and by security scheme 'bearer'" in problem.message


def test_a_field_declared_deeper_is_named_by_its_pointer(tmp_path: Path) -> None:
    nested = (
        "context:\n          type: object\n          properties:\n"
        "            timestamp: {type: string, format: date-time}\n        "
    )
    path = _vendor30(tmp_path, "timestamp: {type: string, format: date-time}\n        ", nested)
    path.write_text(
        path.read_text().replace(
            "timestamp: '2026-03-10T22:21:56Z'", "context: {timestamp: '2026-03-10T22:21:56Z'}"
        )
    )
    [problem] = lint(path)
    assert problem.rule == "named-fields-exist"
    assert "it is declared at /context/timestamp; name it by that JSON Pointer" in problem.message
