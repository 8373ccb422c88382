"""Errors documented and shaped the way vendors publish them, served over HTTP.

Two variants of the Arsel spec whose error responses are only `4XX` and `default` (no per-status
response) and whose catalogue lists only the entries that differ from the catalogue defaults:
- `jsonapi`: JSON:API bodies, `{"errors": [{"status": "401", "code", "detail", "source": {"pointer"}}]}`
  (the status a string, as the schema types it; every entry a default, its `code` derived from the
  schema), from an x-ingest block of 12 lines;
- `text`: `text/plain` errors whose body is the message.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ingestspec.generator.docs.page import error_bodies
from ingestspec.generator.generate.build import generate
from ingestspec.generator.lint.linter import lint
from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.migrate import upgrade
from tests.conftest import EXAMPLE_CONFIG
from tests.generated_server.conftest import ACME_KEY
from tests.servers import RunningServer, running_server
from tests.specs import edited, op, x_ingest

JSONAPI_ERROR = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["status", "code", "detail"],
                "properties": {
                    "status": {"type": "string"},
                    "code": {"type": "string"},
                    "title": {"type": "string"},
                    "detail": {"type": "string"},
                    "source": {"type": "object", "properties": {"pointer": {"type": "string"}}},
                },
            },
        }
    },
}
# The entries of Arsel's catalogue no default covers: the rest is left to the defaults.
KEPT = ("identity_missing", "identity_conflict", "event_not_defined", "payload_invalid")


def vendor_errors(document: dict[str, Any], media_type: str, schema: dict[str, Any], **errors: str) -> None:
    """Every error documented by `4XX` and `default` only, the catalogue cut to what differs."""
    block = upgrade(x_ingest(document))
    responses = op(document)["responses"]
    for status in [s for s in responses if int(s) >= 400]:
        del responses[status]
    content = {media_type: {"schema": schema}}
    responses["4XX"] = {"description": "A client error.", "content": content}
    responses["default"] = {"description": "Any other error.", "content": content}
    catalogue = {k: v for k, v in block["errors"]["catalogue"].items() if k in KEPT}
    block["errors"] = {**errors, "media_type": media_type, "catalogue": catalogue}
    del block["payload_limit"]["error"]
    op(document)["x-ingest"] = block


# A whole x-ingest block for Arsel's operation with JSON:API errors: every error from the defaults.
JSONAPI_BLOCK = """\
version: 2
event_field: event
occurred_at_field: timestamp
identity: {mode: exactly_one, fields: [{name: email}, {name: contact_id}]}
payload: {field: data, validation: required}
payload_limit: {default_bytes: 65536}
response: {status: 202, fields: {id: {source: id}, status: {const: accepted}}}
errors:
  media_type: application/vnd.api+json
  message: /errors/0/detail
  status: /errors/0/status
  path: /errors/0/source/pointer
"""


def jsonapi(document: dict[str, Any]) -> None:
    pointers = {
        "message": "/errors/0/detail",
        "status": "/errors/0/status",
        "path": "/errors/0/source/pointer",
    }
    vendor_errors(document, "application/vnd.api+json", JSONAPI_ERROR, **pointers)
    op(document)["x-ingest"] = yaml.safe_load(JSONAPI_BLOCK)


def text(document: dict[str, Any]) -> None:
    vendor_errors(document, "text/plain", {"type": "string"})
    for entry in x_ingest(document)["errors"]["catalogue"].values():
        del entry["fields"]


def _serve(tmp: Path, edit: Any, package: str) -> Iterator[RunningServer]:
    spec = edited(tmp, "arsel", edit, package)
    generate(spec, tmp / package)
    store = f"sqlite:///{tmp / 'events.db'}"
    with running_server(package, EXAMPLE_CONFIG, store, "/v1", log_dir=tmp, pythonpath=tmp) as server:
        yield server


@pytest.fixture(scope="module")
def jsonapi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from _serve(tmp_path_factory.mktemp("jsonapi"), jsonapi, "jsonapi_errors")


@pytest.fixture(scope="module")
def text_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from _serve(tmp_path_factory.mktemp("text"), text, "text_errors")


def send(
    server: RunningServer, body: Any = None, key: str | None = ACME_KEY, headers: dict[str, str] | None = None
) -> httpx.Response:
    headers = {**({"Authorization": f"Bearer {key}"} if key else {}), **(headers or {})}
    if body is None:
        body = {"event": "order.completed", "email": "a@example.com", "data": {}}
    return httpx.post(f"{server.base_url}/events/send", json=body, headers=headers, timeout=10)


def test_a_vendor_block_is_15_lines_or_fewer() -> None:
    assert len(JSONAPI_BLOCK.splitlines()) <= 15


@pytest.mark.parametrize("edit", [jsonapi, text])
def test_errors_documented_by_ranges_with_default_entries_pass_lint(tmp_path: Path, edit: Any) -> None:
    assert lint(edited(tmp_path, "arsel", edit)) == []


def test_a_range_example_is_the_body_of_an_entry_it_documents(tmp_path: Path) -> None:
    def examples(document: dict[str, Any]) -> None:
        jsonapi(document)
        media = op(document)["responses"]["default"]["content"]["application/vnd.api+json"]
        detail = "The API key is missing or not valid."
        media["examples"] = {
            "key": {"value": {"errors": [{"status": "401", "code": "unauthorized", "detail": detail}]}},
            "gateway": {
                "value": {"errors": [{"status": "502", "code": "bad_gateway", "detail": "Upstream."}]}
            },
            "wrong": {"value": {"errors": [{"status": "401", "code": "unauthorized", "detail": "No."}]}},
        }

    problems = lint(edited(tmp_path, "arsel", examples))
    assert [(p.rule, p.pointer.rsplit("/examples/", 1)[-1]) for p in problems] == [
        ("error-examples-match-the-catalogue", "wrong/value/errors/0/detail")
    ]
    assert "nearest catalogue entry 'unauthorized'" in problems[0].message


def test_a_default_entry_whose_status_is_undocumented_is_named(tmp_path: Path) -> None:
    def only_4xx(document: dict[str, Any]) -> None:
        jsonapi(document)
        del op(document)["responses"]["default"]

    path = edited(tmp_path, "arsel", only_4xx)
    (problem,) = [p for p in lint(path) if p.rule == "errors-are-documented"]
    assert problem.pointer == "/paths/~1events~1send/post/x-ingest/errors"
    assert "error 'storage_unavailable' answers 503, which is not a documented response" in problem.message
    assert "a catalogue default" in problem.message


def test_jsonapi_default_entries_are_served_in_the_errors_array(jsonapi_server: RunningServer) -> None:
    refused = send(jsonapi_server, key="be_unknown_key")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/vnd.api+json"
    assert refused.json() == {
        "errors": [
            {"status": "401", "code": "unauthorized", "detail": "The API key is missing or not valid."}
        ]
    }
    missing = httpx.get(f"{jsonapi_server.base_url}/nowhere", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "route_not_found"


def test_jsonapi_names_the_failing_value_in_source_pointer(jsonapi_server: RunningServer) -> None:
    invalid = send(jsonapi_server, {"event": 7, "email": "a@example.com", "data": {}})
    assert invalid.status_code == 400
    (error,) = invalid.json()["errors"]
    assert (error["status"], error["code"]) == ("400", "invalid_request")
    assert error["source"] == {"pointer": "/event"}
    nobody = send(jsonapi_server, {"event": "order.completed", "data": {}})
    assert nobody.json() == {
        "errors": [
            {
                "status": "400",
                "code": "identity_missing",
                "detail": "The request names no contact: send one of the identity fields.",
            }
        ]
    }
    assert send(jsonapi_server).status_code == 202


def test_text_errors_are_the_message(text_server: RunningServer) -> None:
    refused = send(text_server, key=None)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("text/plain")
    assert refused.text == "The API key is missing or not valid."
    undefined = send(text_server, {"event": "nothing.defined", "email": "a@example.com", "data": {}})
    assert (undefined.status_code, undefined.text) == (
        404,
        'No event named "nothing.defined" is defined in this organization.',
    )
    oversize = send(
        text_server, {"event": "order.completed", "email": "a@example.com", "data": {"x": "y" * 70000}}
    )
    assert (oversize.status_code, oversize.text) == (413, "The request body is larger than 32768 bytes.")
    assert send(text_server).status_code == 202


def test_the_reference_page_shows_each_body_as_served(tmp_path: Path) -> None:
    (plain,) = [
        e
        for e in error_bodies(load_spec(edited(tmp_path, "arsel", text)).operations[0])
        if e["key"] == "unauthorized"
    ]
    assert plain["body"] == "The API key is missing or not valid."  # the text itself, not a JSON string
    (listed,) = [
        e
        for e in error_bodies(load_spec(edited(tmp_path, "arsel", jsonapi, "j")).operations[0])
        if e["key"] == "unauthorized"
    ]
    assert '"status": "401"' in listed["body"] and '"code": "unauthorized"' in listed["body"]


def test_a_head_too_large_is_answered_in_the_envelope_its_range_documents(
    jsonapi_server: RunningServer,
) -> None:
    # 431 is documented by 4XX only: headers_too_large gets its default entry, answered as JSON:API.
    refused = send(jsonapi_server, headers={"X-Padding": "x" * 70000})
    assert refused.status_code == 431
    assert refused.json() == {
        "errors": [
            {"status": "431", "code": "headers_too_large", "detail": "The request headers are too large."}
        ]
    }


# RFC 7807 problem details as OpenMeter publishes them: each status's schema an `allOf` of the one
# that requires `type` (a URI defaulting to about:blank), `title`, `detail` and `instance`.
PROBLEM = {
    "type": "object",
    "required": ["type", "title", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "format": "uri", "default": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "format": "uri"},
    },
}


def problem_details(document: dict[str, Any]) -> None:
    jsonapi(document)
    block = x_ingest(document)
    block["errors"] = {"media_type": "application/problem+json", "message": "/detail", "status": "/status"}
    for response in ("4XX", "default"):
        op(document)["responses"][response]["content"] = {
            "application/problem+json": {"schema": {"type": "object", "allOf": [PROBLEM]}}
        }


def test_default_entries_fill_what_allof_requires_with_defaults_and_formats(tmp_path: Path) -> None:
    path = edited(tmp_path, "arsel", problem_details)
    assert lint(path) == []
    ingest = load_spec(path).ingest_operations[0].ingest
    assert ingest is not None
    fields = ingest.errors.catalogue["unauthorized"].fields
    assert fields == {"/type": "about:blank", "/title": "unauthorized", "/instance": "urn:error:unauthorized"}
