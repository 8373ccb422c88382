"""A table of edits to the real specs, each with the changes `ingestspec diff` must report.

Each row: the API, an edit making OLD (or None: the spec as it is), an edit making NEW from the
spec as it is, and the expected
set of (rule id, breaking for clients, breaking for servers). No-op edits (reordering, case,
documentation, `$ref` versus inline, x-ingest version 1 versus 2) must report nothing. The verdicts
follow oasdiff's levels where oasdiff has the change (`docs/diff.md`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingestspec.generator.diff import diff_specs
from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.migrate import upgrade
from tests.conftest import SPECS
from tests.specs import edited, op, x_ingest

Edit = Callable[[dict[str, Any]], object]
Expected = set[tuple[str, bool, bool]]
A, S = "arsel", "sendrealm"
REQUEST = {A: "SendEventRequest", S: "IngestEventRequest"}


def schemas(d: dict[str, Any]) -> dict[str, Any]:
    return d["components"]["schemas"]


def request(d: dict[str, Any]) -> dict[str, Any]:
    return schemas(d)[REQUEST[A] if REQUEST[A] in schemas(d) else REQUEST[S]]


def prop(d: dict[str, Any], name: str) -> dict[str, Any]:
    return request(d)["properties"][name]


def payload(d: dict[str, Any]) -> dict[str, Any]:
    return prop(d, "data" if "data" in request(d)["properties"] else "payload")


def responses(d: dict[str, Any]) -> dict[str, Any]:
    return op(d)["responses"]


def body(d: dict[str, Any]) -> dict[str, Any]:
    return op(d)["requestBody"]["content"]


def accepted(d: dict[str, Any]) -> dict[str, Any]:
    return schemas(d)["EventAccepted"]


def param(name: str, where: str, required: bool = False, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": {"type": "string", **schema}}


def with_params(*parameters: dict[str, Any]) -> Edit:
    return lambda d: op(d).update(parameters=list(copy.deepcopy(parameters)))


def header(name: str, required: bool = False, **schema: Any) -> dict[str, Any]:
    return {name: {"required": required, "schema": {"type": "string", **schema}}}


def with_header(status: str, headers: dict[str, Any]) -> Edit:
    return lambda d: responses(d)[status].setdefault("headers", {}).update(copy.deepcopy(headers))


def reorder(mapping: dict[str, Any]) -> None:
    items = list(mapping.items())[::-1]
    mapping.clear()
    mapping.update(items)


def v2(**members: Any) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        block = upgrade(x_ingest(d))
        block.update(copy.deepcopy(members))
        op(d)["x-ingest"] = block

    return edit


def both(*edits: Edit) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        for each in edits:
            each(d)

    return edit


def as_path_item_ref(d: dict[str, Any]) -> None:
    path, item = next(iter(d["paths"].items()))
    d["components"]["pathItems"] = {"Ingest": item}
    d["paths"][path] = {"$ref": "#/components/pathItems/Ingest"}


def inline_request(d: dict[str, Any]) -> None:
    media = body(d)["application/json"]
    media["schema"] = copy.deepcopy(schemas(d)[media["schema"]["$ref"].rsplit("/", 1)[-1]])


APIKEY = {"type": "apiKey", "in": "header", "name": "X-Api-Key"}
RATE = {"requests": 100, "per_seconds": 1, "error": "too_many"}
TOO_MANY = {"too_many": {"status": 429, "message": "Slow down."}}


def rate(requests: int) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        v2(rate_limit={**RATE, "requests": requests})(d)
        x_ingest(d)["errors"]["catalogue"].update(copy.deepcopy(TOO_MANY))

    return edit


def scheme(declaration: dict[str, Any], name: str | None = None) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        old = next(iter(d["components"]["securitySchemes"]))
        d["components"]["securitySchemes"] = {name or old: declaration}
        d["security"] = [{name or old: []}]

    return edit


def two_schemes(d: dict[str, Any]) -> None:
    first = next(iter(d["components"]["securitySchemes"]))
    d["components"]["securitySchemes"]["apiKeyHeader"] = APIKEY
    d["security"] = [{first: []}, {"apiKeyHeader": []}]


NONE: Expected = set()

# name -> (api, edit of OLD or None, edit of NEW, expected changes)
EDITS: dict[str, tuple[str, Edit | None, Edit, Expected]] = {
    # --- no-op edits: order, case, documentation, $ref, vocabulary version ----------------------
    "request properties reordered": (A, None, lambda d: reorder(request(d)["properties"]), NONE),
    "responses reordered": (S, None, lambda d: reorder(responses(d)), NONE),
    "x-ingest response fields reordered": (
        S,
        None,
        lambda d: reorder(x_ingest(d)["response"]["fields"]),
        NONE,
    ),
    "catalogue entries reordered": (A, None, lambda d: reorder(x_ingest(d)["errors"]["catalogue"]), NONE),
    "response enum values reordered": (
        S,
        None,
        lambda d: accepted(d)["properties"]["resolved_identity_type"]["enum"].reverse(),
        NONE,
    ),
    "required list reordered": (A, None, lambda d: request(d)["required"].reverse(), NONE),
    "oneOf branches reordered": (A, None, lambda d: request(d)["oneOf"].reverse(), NONE),
    "type list reordered": (
        A,
        lambda d: prop(d, "timestamp").update(type=["string", "null"]),
        lambda d: prop(d, "timestamp").update(type=["null", "string"]),
        NONE,
    ),
    "response header name in another case": (
        S,
        None,
        lambda d: responses(d)["401"].update(
            headers={"www-authenticate": responses(d)["401"]["headers"].pop("WWW-Authenticate")}
        ),
        NONE,
    ),
    "replay header in another case": (
        S,
        None,
        lambda d: x_ingest(d)["dedupe"]["replay"].update(header="idempotent-replayed"),
        NONE,
    ),
    "request media type in another case": (
        A,
        None,
        lambda d: body(d).update({"Application/JSON": body(d).pop("application/json")}),
        NONE,
    ),
    "descriptions rewritten": (
        S,
        None,
        lambda d: [r.update(description="Rewritten.") for r in responses(d).values()],
        NONE,
    ),
    "examples changed": (A, None, lambda d: prop(d, "event").update(examples=["signup"]), NONE),
    "summary and tags changed": (S, None, lambda d: op(d).update(summary="Other", tags=["Other"]), NONE),
    "an x- extension on a schema": (A, None, lambda d: prop(d, "event").update({"x-internal": True}), NONE),
    "identity order under exactly_one": (
        A,
        None,
        lambda d: x_ingest(d)["identity"]["fields"].reverse(),
        NONE,
    ),
    "path item given by $ref": (A, None, as_path_item_ref, NONE),
    "request schema inlined": (A, None, inline_request, NONE),
    "x-ingest migrated to version 2": (S, None, v2(), NONE),
    "security scheme renamed": (S, None, scheme({"type": "http", "scheme": "bearer"}, "token"), NONE),
    "security scheme scheme in another case": (S, None, scheme({"type": "http", "scheme": "Bearer"}), NONE),
    "reserved prefixes reordered": (
        S,
        None,
        lambda d: x_ingest(d)["reserved_prefixes"]["prefixes"].reverse(),
        NONE,
    ),
    "server description changed": (A, None, lambda d: d["servers"][0].update(description="Prod"), NONE),
    "$comment added": (A, None, lambda d: prop(d, "email").update({"$comment": "why"}), NONE),
    "header parameter name in another case": (
        A,
        with_params(param("X-Trace", "header")),
        with_params(param("x-trace", "header")),
        NONE,
    ),
    # --- parameters -------------------------------------------------------------------------------
    "optional query parameter added": (
        A,
        None,
        with_params(param("debug", "query")),
        {("parameter-added", False, False)},
    ),
    "required query parameter added": (
        A,
        None,
        with_params(param("tenant", "query", True)),
        {("parameter-added", True, False)},
    ),
    "optional header parameter added": (
        S,
        None,
        with_params(param("X-Trace", "header")),
        {("parameter-added", False, False)},
    ),
    "required header parameter added": (
        S,
        None,
        with_params(param("X-Tenant", "header", True)),
        {("parameter-added", True, False)},
    ),
    "optional parameter removed": (
        A,
        with_params(param("debug", "query")),
        lambda d: None,
        {("parameter-removed", False, False)},
    ),
    "required parameter removed": (
        A,
        with_params(param("tenant", "query", True)),
        lambda d: None,
        {("parameter-removed", False, True)},
    ),
    "parameter became required": (
        A,
        with_params(param("tenant", "query")),
        with_params(param("tenant", "query", True)),
        {("parameter-required", True, False)},
    ),
    "parameter became optional": (
        A,
        with_params(param("tenant", "query", True)),
        with_params(param("tenant", "query")),
        {("parameter-optional", False, True)},
    ),
    "parameter maxLength lowered": (
        S,
        with_params(param("X-Trace", "header", maxLength=64)),
        with_params(param("X-Trace", "header", maxLength=32)),
        {("max-length-narrowed", True, False)},
    ),
    "parameter enum widened": (
        A,
        with_params(param("mode", "query", enum=["a"])),
        with_params(param("mode", "query", enum=["a", "b"])),
        {("enum-widened", False, True)},
    ),
    "parameter moved from query to header": (
        A,
        with_params(param("tenant", "query", True)),
        with_params(param("tenant", "header", True)),
        {("parameter-removed", False, True), ("parameter-added", True, False)},
    ),
    "path-level parameter moved onto the operation": (
        A,
        lambda d: next(iter(d["paths"].values())).update(parameters=[param("debug", "query")]),
        with_params(param("debug", "query")),
        NONE,
    ),
    # --- security ---------------------------------------------------------------------------------
    "bearer became an apiKey header": (
        S,
        None,
        scheme(APIKEY),
        {("security-scheme-type-changed", True, True)},
    ),
    "apiKey header renamed": (
        S,
        scheme(APIKEY),
        scheme({**APIKEY, "name": "X-Key"}),
        {("security-scheme-type-changed", True, True)},
    ),
    "basic key moved from the user name to both parts": (
        S,
        scheme({"type": "http", "scheme": "basic", "x-ingest-basic": "user"}),
        scheme({"type": "http", "scheme": "basic", "x-ingest-basic": "both"}),
        {("security-scheme-type-changed", True, True)},
    ),
    "apiKey header name in another case": (S, scheme(APIKEY), scheme({**APIKEY, "name": "x-api-key"}), NONE),
    "a second way to send the key": (S, None, two_schemes, {("security-alternative-added", False, True)}),
    "one way to send the key dropped": (
        S,
        two_schemes,
        lambda d: None,
        {("security-alternative-removed", True, False)},
    ),
    "no key needed": (A, None, lambda d: d.pop("security"), {("security-changed", False, True)}),
    "a key needed": (A, lambda d: d.pop("security"), lambda d: None, {("security-changed", True, False)}),
    # --- request body -----------------------------------------------------------------------------
    "request body became optional": (
        A,
        None,
        lambda d: op(d)["requestBody"].update(required=False),
        {("request-body-optional", False, True)},
    ),
    "request body became required": (
        A,
        lambda d: op(d)["requestBody"].update(required=False),
        lambda d: None,
        {("request-body-required", True, False)},
    ),
    "second request media type added": (
        S,
        None,
        lambda d: body(d).update({"application/vnd.sendrealm+json": body(d)["application/json"]}),
        {("request-media-type-added", False, True)},
    ),
    "second request media type added first": (
        S,
        None,
        lambda d: op(d)["requestBody"].update(
            content={"application/vnd.sendrealm+json": body(d)["application/json"], **body(d)}
        ),
        {("request-media-type-added", False, True)},
    ),
    "request media type removed": (
        S,
        lambda d: body(d).update({"application/vnd.sendrealm+json": body(d)["application/json"]}),
        lambda d: None,
        {("request-media-type-removed", True, False)},
    ),
    # --- statuses ---------------------------------------------------------------------------------
    "success status removed": (
        S,
        None,
        lambda d: responses(d).pop("200"),
        {("success-status-removed", True, True)},
    ),
    "success status added": (
        A,
        None,
        lambda d: responses(d).update({"200": copy.deepcopy(responses(d)["202"])}),
        {("success-status-added", False, False)},
    ),
    "error status removed": (
        S,
        None,
        lambda d: responses(d).pop("415"),
        {("error-status-removed", False, True)},
    ),
    "error status added": (
        S,
        None,
        lambda d: responses(d).update({"409": copy.deepcopy(responses(d)["400"])}),
        {("error-status-added", False, False)},
    ),
    "response media type added": (
        S,
        None,
        lambda d: responses(d)["400"]["content"].update(
            {"application/json": responses(d)["400"]["content"]["application/problem+json"]}
        ),
        {("response-media-type-added", False, False)},
    ),
    "response media type replaced": (
        S,
        None,
        lambda d: responses(d)["400"].update(
            content={"application/json": responses(d)["400"]["content"]["application/problem+json"]}
        ),
        {("response-media-type-removed", True, True), ("response-media-type-added", False, False)},
    ),
    # --- response headers -------------------------------------------------------------------------
    "optional response header added": (
        S,
        None,
        with_header("202", header("X-Request-Id")),
        {("header-added", False, False)},
    ),
    "required response header added": (
        S,
        None,
        with_header("202", header("X-Request-Id", True)),
        {("header-added", False, True)},
    ),
    "required response header removed": (
        S,
        with_header("202", header("X-Request-Id", True)),
        lambda d: None,
        {("header-removed", True, False)},
    ),
    "optional response header removed": (
        S,
        None,
        lambda d: responses(d)["503"].pop("headers"),
        {("header-removed", False, False)},
    ),
    "response header became required": (
        S,
        with_header("202", header("X-Request-Id")),
        with_header("202", header("X-Request-Id", True)),
        {("header-required", False, True)},
    ),
    "response header became optional": (
        S,
        with_header("202", header("X-Request-Id", True)),
        with_header("202", header("X-Request-Id")),
        {("header-optional", True, False)},
    ),
    "response header type changed": (
        S,
        with_header("202", header("X-Count")),
        with_header("202", {"X-Count": {"schema": {"type": "integer"}}}),
        {("type-changed", True, True)},
    ),
    "response header values narrowed to an enum": (
        S,
        with_header("202", header("X-Mode")),
        with_header("202", header("X-Mode", enum=["a"])),
        {("enum-narrowed", False, True)},
    ),
    # --- response bodies --------------------------------------------------------------------------
    "required response field added": (
        S,
        None,
        lambda d: (
            accepted(d)["properties"].update(status={"type": "string"}),
            accepted(d)["required"].append("status"),
        ),
        {("field-added", False, True)},
    ),
    "optional response field added": (
        S,
        None,
        lambda d: accepted(d)["properties"].update(status={"type": "string"}),
        {("field-added", False, False)},
    ),
    "required response field removed": (
        S,
        None,
        lambda d: (
            accepted(d)["properties"].pop("occurred_at"),
            accepted(d)["required"].remove("occurred_at"),
        ),
        {("field-removed", True, False)},
    ),
    "optional response field removed": (
        A,
        None,
        lambda d: schemas(d)["Error"]["properties"].pop("details"),
        {("field-removed", False, False)},
    ),
    "response field became optional": (
        S,
        None,
        lambda d: accepted(d)["required"].remove("occurred_at"),
        {("field-optional", True, False)},
    ),
    "response enum widened": (
        S,
        None,
        lambda d: accepted(d)["properties"]["resolved_identity_type"]["enum"].append("phone"),
        {("enum-widened", True, False)},
    ),
    # --- every 2020-12 keyword, on the request --------------------------------------------------
    "propertyNames added": (
        A,
        None,
        lambda d: payload(d).update(propertyNames={"pattern": "^[a-z_]+$"}),
        {("schema-changed", True, False)},
    ),
    "uniqueItems added": (
        A,
        lambda d: request(d)["properties"].update(tags={"type": "array", "items": {"type": "string"}}),
        lambda d: request(d)["properties"].update(
            tags={"type": "array", "items": {"type": "string"}, "uniqueItems": True}
        ),
        {("unique-items-narrowed", True, False)},
    ),
    "multipleOf added": (
        A,
        lambda d: request(d)["properties"].update(amount={"type": "number"}),
        lambda d: request(d)["properties"].update(amount={"type": "number", "multipleOf": 0.01}),
        {("multiple-of-narrowed", True, False)},
    ),
    "minProperties added": (
        A,
        None,
        lambda d: payload(d).update(minProperties=1),
        {("min-properties-narrowed", True, False)},
    ),
    "maxProperties removed": (
        A,
        lambda d: payload(d).update(maxProperties=50),
        lambda d: None,
        {("max-properties-widened", False, True)},
    ),
    "prefixItems added": (
        A,
        lambda d: request(d)["properties"].update(pair={"type": "array"}),
        lambda d: request(d)["properties"].update(
            pair={"type": "array", "prefixItems": [{"type": "string"}]}
        ),
        {("schema-changed", True, False)},
    ),
    "contains added": (
        A,
        lambda d: request(d)["properties"].update(tags={"type": "array"}),
        lambda d: request(d)["properties"].update(tags={"type": "array", "contains": {"const": "x"}}),
        {("schema-changed", True, False)},
    ),
    "minContains raised": (
        A,
        lambda d: request(d)["properties"].update(tags={"type": "array", "contains": {"const": "x"}}),
        lambda d: request(d)["properties"].update(
            tags={"type": "array", "contains": {"const": "x"}, "minContains": 2}
        ),
        {("min-contains-narrowed", True, False)},
    ),
    "patternProperties added": (
        A,
        None,
        lambda d: payload(d).update(patternProperties={"^x_": {"type": "string"}}),
        {("schema-changed", True, False)},
    ),
    "unevaluatedProperties closed": (
        A,
        None,
        lambda d: payload(d).update(unevaluatedProperties=False),
        {("unevaluated-properties-narrowed", True, False)},
    ),
    "dependentRequired added": (
        A,
        None,
        lambda d: request(d).update(dependentRequired={"timestamp": ["email"]}),
        {("dependent-required-changed", True, True)},
    ),
    "dependentSchemas added": (
        A,
        None,
        lambda d: request(d).update(dependentSchemas={"timestamp": {"required": ["email"]}}),
        {("dependent-schemas-changed", True, True)},
    ),
    "contentEncoding added": (
        A,
        None,
        lambda d: prop(d, "event").update(contentEncoding="base64"),
        {("content-encoding-narrowed", True, False)},
    ),
    "const added": (
        A,
        None,
        lambda d: prop(d, "event").update(const="signup"),
        {("const-narrowed", True, False)},
    ),
    "readOnly added": (
        A,
        None,
        lambda d: prop(d, "timestamp").update(readOnly=True),
        {("read-only-changed", False, False)},
    ),
    "exclusiveMinimum added": (
        A,
        lambda d: request(d)["properties"].update(amount={"type": "number"}),
        lambda d: request(d)["properties"].update(amount={"type": "number", "exclusiveMinimum": 0}),
        {("exclusive-minimum-narrowed", True, False)},
    ),
    "if and then added": (
        A,
        None,
        lambda d: request(d).update({"if": {"required": ["timestamp"]}, "then": {"required": ["email"]}}),
        {("if-changed", True, True), ("then-changed", True, True)},
    ),
    "not added": (
        A,
        None,
        lambda d: request(d).update({"not": {"required": ["debug"]}}),
        {("not-changed", True, True)},
    ),
    "payload closed to unknown members": (
        S,
        None,
        lambda d: payload(d).update(additionalProperties=False),
        {("additional-properties-narrowed", True, False)},
    ),
    # --- x-ingest -----------------------------------------------------------------------------------
    "x-ingest response field renamed": (
        S,
        None,
        lambda d: x_ingest(d)["response"]["fields"].update(
            event_id=x_ingest(d)["response"]["fields"].pop("id")
        ),
        {("success-response-changed", True, True)},
    ),
    "x-ingest response text changed": (
        S,
        v2(response={"status": 202, "text": "1"}),
        v2(response={"status": 202, "text": "OK"}),
        {("success-response-changed", True, True)},
    ),
    "x-ingest response's empty object becomes no body": (
        S,
        v2(response={"status": 202, "fields": {}}),
        v2(response={"status": 202}),
        {("success-response-changed", True, True)},
    ),
    "project_field added": (S, v2(), v2(project_field="event"), {("project-field-changed", True, True)}),
    "project_field written as its pointer": (S, v2(project_field="event"), v2(project_field="/event"), NONE),
    "rate limit lowered": (S, rate(100), rate(10), {("rate-limit-lowered", True, False)}),
    "rate limit raised": (S, rate(10), rate(100), {("rate-limit-raised", False, True)}),
    "rate limit removed": (
        S,
        rate(10),
        both(v2(), lambda d: x_ingest(d)["errors"]["catalogue"].update(copy.deepcopy(TOO_MANY))),
        {("rate-limit-removed", False, True)},
    ),
    "documented_only added": (
        S,
        v2(),
        v2(documented_only=[502]),
        {("documented-only-changed", False, False)},
    ),
    "dedupe window shortened": (
        S,
        v2(),
        lambda d: (v2()(d), x_ingest(d)["dedupe"].update(window="PT24H")),
        {("dedupe-window-changed", True, True)},
    ),
    "identity read from a path parameter instead of the body": (
        S,
        v2(),
        lambda d: (v2()(d), x_ingest(d)["identity"]["fields"][0].update(name="$request.path.email")),
        {("identity-fields-changed", True, True)},
    ),
    "identity label changed": (
        S,
        v2(),
        lambda d: (v2()(d), x_ingest(d)["identity"]["fields"][0].update(kind="contact")),
        {("identity-normalize-changed", True, True)},
    ),
    "id format changed": (
        S,
        v2(),
        lambda d: (v2()(d), x_ingest(d).update(id_format="ulid")),
        {("id-format-changed", True, True)},
    ),
    "retention raised": (
        A,
        None,
        lambda d: x_ingest(d)["retention"].update(default_days=365),
        {("retention-raised", False, True)},
    ),
    "a catalogue entry left to its default, then written out as the default": (
        A,
        both(v2(), lambda d: x_ingest(d)["errors"]["catalogue"].pop("unauthorized")),
        both(
            v2(),
            lambda d: x_ingest(d)["errors"]["catalogue"].update(
                unauthorized={
                    "status": 401,
                    "fields": {"/name": "unauthorized"},
                    "message": "The API key is missing or not valid.",
                }
            ),
        ),
        NONE,
    ),
    "a catalogue entry left to its default": (
        A,
        None,
        both(v2(), lambda d: x_ingest(d)["errors"]["catalogue"].pop("unauthorized")),
        {("error-message-changed", True, True)},  # Arsel's name for it is the default's, its key
    ),
    "the failing value's pointer placed in error bodies": (
        A,
        None,
        both(v2(), lambda d: x_ingest(d)["errors"].update(path="/source/pointer")),
        {("error-envelope-changed", True, True)},
    ),
    "error catalogue key renamed, same body": (
        A,
        None,
        lambda d: (
            x_ingest(d)["errors"]["catalogue"].update(
                schema_mismatch=x_ingest(d)["errors"]["catalogue"].pop("payload_invalid")
            ),
            x_ingest(d)["payload"].update(mismatch_error="schema_mismatch"),
        ),
        {("error-key-renamed", False, False)},
    ),
}


def test_the_table_is_large_enough() -> None:
    assert len(EDITS) >= 80
    assert sum(1 for *_, expected in EDITS.values() if not expected) >= 20  # the no-op edits


@pytest.mark.parametrize("name", list(EDITS))
def test_each_edit_gets_its_verdict(name: str, tmp_path: Path) -> None:
    api, old_edit, new_edit, expected = EDITS[name]
    old = edited(tmp_path, api, old_edit, "old") if old_edit else SPECS[api]
    new = edited(tmp_path, api, new_edit, "new")
    changes = diff_specs(load_spec(old), load_spec(new)).changes
    found = {(c.kind, c.breaking_for_clients, c.breaking_for_servers) for c in changes}
    assert found == expected, [c.message for c in changes]
    assert all(c.message and c.location for c in changes)
