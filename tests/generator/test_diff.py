"""`ingestspec diff` classifies each class of change, on edited copies of both real specs."""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ingestspec.generator.cli.main import main
from ingestspec.generator.diff import Change, diff_specs
from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.migrate import upgrade
from tests.conftest import REPO, SPECS
from tests.specs import edited, op, x_ingest

Edit = Callable[[dict[str, Any]], object]
REQUEST = {"arsel": "SendEventRequest", "sendrealm": "IngestEventRequest"}


def catalogue(document: dict[str, Any]) -> dict[str, Any]:
    return x_ingest(document)["errors"]["catalogue"]


def schemas(document: dict[str, Any]) -> dict[str, Any]:
    return document["components"]["schemas"]


def request(document: dict[str, Any]) -> dict[str, Any]:
    name = REQUEST["arsel" if "SendEventRequest" in schemas(document) else "sendrealm"]
    return schemas(document)[name]


def field(document: dict[str, Any], name: str) -> dict[str, Any]:
    return request(document)["properties"][name]


def v2(**members: Any) -> Edit:
    """An edit that upgrades the x-ingest block to version 2 and sets `members` on it."""

    def edit(document: dict[str, Any]) -> None:
        block = upgrade(x_ingest(document))
        block.update(members)
        if "rate_limit" in members:
            block["errors"]["catalogue"]["too_many"] = {"status": 429, "message": "Slow down."}
        op(document)["x-ingest"] = block

    return edit


def classified(changes: tuple[Change, ...]) -> set[tuple[str, bool, bool]]:
    return {(c.kind, c.breaking_for_clients, c.breaking_for_servers) for c in changes}


def diff_paths(old: Path, new: Path) -> tuple[Change, ...]:
    return diff_specs(load_spec(old), load_spec(new)).changes


# --- the real specs ------------------------------------------------------------------------------


def test_a_real_spec_against_itself_has_no_changes(api: str) -> None:
    assert diff_paths(SPECS[api], SPECS[api]) == ()


def test_a_reformatted_copy_with_edited_descriptions_has_no_changes(api: str, tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        op(d)["description"] = "Rewritten."
        for schema in request(d)["properties"].values():
            schema["description"] = "Rewritten too."
            schema.pop("examples", None)

    assert diff_paths(SPECS[api], edited(tmp_path, api, edit)) == ()


def test_the_two_apis_differ_by_a_whole_operation() -> None:
    changes = diff_paths(SPECS["arsel"], SPECS["sendrealm"])
    assert classified(changes) == {
        ("base-path-changed", True, True),
        ("operation-removed", True, False),
        ("operation-added", False, True),
    }


# Edits that apply to both real specs, with the one classification each must get.
COMMON: dict[str, tuple[Edit, set[tuple[str, bool, bool]], str]] = {
    "optional request field added": (
        lambda d: request(d)["properties"].update(source={"type": "string"}),
        {("field-added", False, True)},
        "request.source",
    ),
    "required request field added": (
        lambda d: (
            request(d)["properties"].update(source={"type": "string"}),
            request(d)["required"].append("source"),
        ),
        {("field-added", True, True)},
        "request.source",
    ),
    "request field removed": (
        lambda d: request(d)["properties"].pop("email"),
        {("field-removed", True, False)},
        "request.email",
    ),
    "request field became required": (
        lambda d: request(d)["required"].append("email"),
        {("field-required", True, False)},
        "request.email",
    ),
    "maxLength lowered": (
        lambda d: field(d, "event").update(maxLength=100),
        {("max-length-narrowed", True, False)},
        "request.event",
    ),
    "maxLength raised": (
        lambda d: field(d, "event").update(maxLength=1000),
        {("max-length-widened", False, True)},
        "request.event",
    ),
    "minLength raised": (
        lambda d: field(d, "event").update(minLength=3),
        {("min-length-narrowed", True, False)},
        "request.event",
    ),
    "pattern added": (
        lambda d: field(d, "event").update(pattern="^[a-z.]+$"),
        {("pattern-narrowed", True, False)},
        "request.event",
    ),
    "format changed": (
        lambda d: field(d, "contact_id").update(format="uri"),
        {("format-changed", True, True)},
        "request.contact_id",
    ),
    "type changed": (
        lambda d: field(d, "event").update(type="integer"),
        {("type-changed", True, True)},
        "request.event",
    ),
    "status code removed": (
        lambda d: op(d)["responses"].pop("415"),
        {("error-status-removed", False, True)},
        "response[415]",
    ),
    "status code added": (
        lambda d: op(d)["responses"].update({"429": {"description": "Too many requests"}}),
        {("error-status-added", False, False)},
        "response[429]",
    ),
    "error message changed": (
        lambda d: catalogue(d)["unauthorized"].update(message="Who are you?"),
        {("error-message-changed", True, True)},
        "errors.catalogue.unauthorized.message",
    ),
    "error status changed": (
        lambda d: catalogue(d)["payload_invalid"].update(status=400),
        {("error-status-changed", True, True)},
        "errors.catalogue.payload_invalid.status",
    ),
    "error name changed": (
        lambda d: catalogue(d)["unauthorized"]["fields"].update(
            {next(iter(catalogue(d)["unauthorized"]["fields"])): "forbidden"}
        ),
        {("error-name-changed", True, True)},
        "errors.catalogue.unauthorized.fields",
    ),
    "error removed": (
        lambda d: (
            catalogue(d).pop("payload_too_large"),
            x_ingest(d)["payload_limit"].update(error="invalid_request"),
        ),
        {("error-removed", True, True), ("error-use-changed", True, True)},
        "x-ingest.",
    ),
    "error added": (
        lambda d: catalogue(d).update(rate_limited={"status": 429, "message": "Slow down."}),
        {("error-added", False, True)},
        "errors.catalogue.rate_limited",
    ),
    "error key renamed, same body": (
        lambda d: (
            catalogue(d).update(schema_mismatch=catalogue(d).pop("payload_invalid")),
            x_ingest(d)["payload"].update(mismatch_error="schema_mismatch"),
        ),
        {("error-key-renamed", False, False)},
        "errors.catalogue.payload_invalid",
    ),
    "payload cap lowered": (
        lambda d: x_ingest(d)["payload_limit"].update(default_bytes=32768),
        {("payload-limit-lowered", True, False)},
        "x-ingest.payload_limit.default_bytes",
    ),
    "payload cap raised": (
        lambda d: x_ingest(d)["payload_limit"].update(default_bytes=1048576),
        {("payload-limit-raised", False, True)},
        "x-ingest.payload_limit.default_bytes",
    ),
    "retention lowered": (
        lambda d: x_ingest(d)["retention"].update(default_days=30),
        {("retention-lowered", True, False)},
        "x-ingest.retention",
    ),
    "processing retried more": (
        lambda d: x_ingest(d)["processing"].update(max_attempts=9),
        {("processing-changed", False, False)},
        "x-ingest.processing",
    ),
    "success status changed": (
        lambda d: x_ingest(d)["response"].update(status=201),
        {("success-response-status-changed", True, True)},
        "x-ingest.response.status",
    ),
    "error envelope changed": (
        lambda d: x_ingest(d)["errors"].update(media_type="application/vnd.error+json"),
        {("error-envelope-changed", True, True)},
        "x-ingest.errors.media_type",
    ),
    "operation renamed": (
        lambda d: op(d).update(operationId="renamedOperation"),
        {("operation-renamed", True, False)},
        "renamedOperation",
    ),
    "operation moved": (
        lambda d: d.update(paths={"/v2/moved": next(iter(d["paths"].values()))}),
        {("operation-moved", True, True)},
        "",
    ),
    "request media type changed": (
        lambda d: op(d)["requestBody"].update(
            content={"application/x-ndjson": op(d)["requestBody"]["content"]["application/json"]}
        ),
        {("request-media-type-removed", True, False), ("request-media-type-added", False, True)},
        "request",
    ),
    "base path changed": (
        lambda d: d["servers"][0].update(url=d["servers"][0]["url"].rstrip("/") + "/v9"),
        {("base-path-changed", True, True)},
        "servers[0].url",
    ),
    "a version-2 block that says the same": (v2(), set(), ""),
    "id prefix added": (v2(id_prefix="evt_"), {("id-prefix-changed", True, True)}, "x-ingest.id_prefix"),
    "rate limit added": (
        v2(rate_limit={"requests": 10, "per_seconds": 1, "error": "too_many"}),
        {("rate-limit-added", True, False), ("error-added", False, True)},
        "x-ingest.",
    ),
    "security dropped": (
        lambda d: d.pop("security"),
        {("security-changed", False, True)},
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(COMMON))
def test_each_class_of_change_on_both_specs(api: str, case: str, tmp_path: Path) -> None:
    edit, expected, location = COMMON[case]
    changes = diff_paths(SPECS[api], edited(tmp_path, api, edit))
    assert classified(changes) == expected, [c.message for c in changes]
    assert all(location in c.location for c in changes), [c.location for c in changes]
    assert all(c.message for c in changes)


# Changes only one of the two specs can carry: (api, edit of OLD or None, edit of NEW or None, expected).
SPECIFIC: dict[str, tuple[str, Edit | None, Edit | None, set[tuple[str, bool, bool]]]] = {
    "operation removed": (
        "arsel",
        lambda d: d["paths"].update(
            {"/events/batch": {"post": {**copy.deepcopy(op(d)), "operationId": "sendBatch"}}}
        ),
        None,
        {("operation-removed", True, False)},
    ),
    "operation added": (
        "arsel",
        None,
        lambda d: d["paths"].update(
            {"/events/batch": {"post": {**copy.deepcopy(op(d)), "operationId": "sendBatch"}}}
        ),
        {("operation-added", False, True)},
    ),
    "request field renamed": (
        "sendrealm",
        None,
        lambda d: request(d)["properties"].update(dedupe_key=request(d)["properties"].pop("idempotency_key")),
        {("field-renamed", True, True)},
    ),
    "request field became optional": (
        "arsel",
        None,
        lambda d: request(d)["required"].remove("data"),
        {("field-optional", False, True)},
    ),
    "type narrowed from nullable": (
        "arsel",
        lambda d: field(d, "timestamp").update(type=["string", "null"]),
        None,
        {("type-narrowed", True, False)},
    ),
    "type widened to nullable": (
        "arsel",
        None,
        lambda d: field(d, "timestamp").update(type=["string", "null"]),
        {("type-widened", False, True)},
    ),
    "request enum added": (
        "arsel",
        None,
        lambda d: field(d, "event").update(enum=["order.completed", "order.refunded"]),
        {("enum-narrowed", True, False)},
    ),
    "request enum value removed": (
        "arsel",
        lambda d: field(d, "event").update(enum=["order.completed", "order.refunded"]),
        lambda d: field(d, "event").update(enum=["order.completed"]),
        {("enum-narrowed", True, False)},
    ),
    "response enum narrowed": (
        "sendrealm",
        None,
        lambda d: schemas(d)["EventAccepted"]["properties"]["resolved_identity_type"].update(
            enum=["contact_id", "email"]
        ),
        {("enum-narrowed", False, True)},
    ),
    "response enum widened": (
        "sendrealm",
        None,
        lambda d: schemas(d)["EventAccepted"]["properties"]["resolved_identity_type"]["enum"].append("phone"),
        {("enum-widened", True, False)},
    ),
    "format added": (
        "sendrealm",
        None,
        lambda d: field(d, "external_id").update(format="uuid"),
        {("format-narrowed", True, False)},
    ),
    "format removed": (
        "arsel",
        None,
        lambda d: field(d, "email").pop("format"),
        {("format-widened", False, True)},
    ),
    "minimum raised": (
        "arsel",
        lambda d: request(d)["properties"].update(priority={"type": "integer", "minimum": 0, "maximum": 10}),
        lambda d: request(d)["properties"].update(priority={"type": "integer", "minimum": 1, "maximum": 10}),
        {("minimum-narrowed", True, False)},
    ),
    "maximum lowered": (
        "arsel",
        lambda d: request(d)["properties"].update(priority={"type": "integer", "minimum": 0, "maximum": 10}),
        lambda d: request(d)["properties"].update(priority={"type": "integer", "minimum": 0, "maximum": 5}),
        {("maximum-narrowed", True, False)},
    ),
    "maximum removed": (
        "arsel",
        lambda d: request(d)["properties"].update(priority={"type": "integer", "maximum": 10}),
        lambda d: request(d)["properties"].update(priority={"type": "integer"}),
        {("maximum-widened", False, True)},
    ),
    "response field removed": (
        "sendrealm",
        None,
        lambda d: (
            schemas(d)["EventAccepted"]["properties"].pop("occurred_at"),
            schemas(d)["EventAccepted"]["required"].remove("occurred_at"),
        ),
        {("field-removed", True, False)},
    ),
    "response field now promised": (
        "arsel",
        None,
        lambda d: schemas(d)["Error"]["required"].append("details"),
        {("field-required", False, True)},
    ),
    "response bound narrowed": (
        "arsel",
        None,
        lambda d: schemas(d)["Error"]["properties"]["status_code"].update(minimum=400),
        {("minimum-narrowed", False, True)},
    ),
    "unknown request fields now accepted": (
        "arsel",
        None,
        lambda d: request(d).pop("additionalProperties"),
        {("additional-properties-widened", False, True)},
    ),
    "identity rule changed": (
        "arsel",
        None,
        lambda d: request(d)["oneOf"].append({"required": ["external_id"]}),
        {("one-of-changed", True, True)},
    ),
    "identity order changed": (
        "sendrealm",
        None,
        lambda d: x_ingest(d)["identity"]["fields"].reverse(),
        {("identity-order-changed", True, True)},
    ),
    "identity order under exactly_one is no change": (
        "arsel",
        None,
        lambda d: x_ingest(d)["identity"]["fields"].reverse(),
        set(),
    ),
    "identity mode changed": (
        "arsel",
        None,
        lambda d: x_ingest(d)["identity"].update(mode="first_present"),
        {("identity-mode-changed", True, True)},
    ),
    "identity normalisation changed": (
        "sendrealm",
        None,
        lambda d: x_ingest(d)["identity"]["fields"][2].update(normalize="none"),
        {("identity-normalize-changed", True, True)},
    ),
    "identity field dropped": (
        "sendrealm",
        None,
        lambda d: x_ingest(d)["identity"]["fields"].pop(1),
        {("identity-fields-changed", True, False)},
    ),
    "reserved prefix added": (
        "sendrealm",
        None,
        lambda d: x_ingest(d)["reserved_prefixes"]["prefixes"].append("system."),
        {("reserved-prefix-added", True, False)},
    ),
    "reserved prefix removed": (
        "sendrealm",
        lambda d: x_ingest(d)["reserved_prefixes"]["prefixes"].append("system."),
        None,
        {("reserved-prefix-removed", False, True)},
    ),
    "reserved prefixes introduced": (
        "arsel",
        None,
        lambda d: (
            x_ingest(d).update(reserved_prefixes={"prefixes": ["arsel."], "error": "reserved"}),
            catalogue(d).update(
                reserved={"status": 422, "message": "Reserved.", "fields": {"name": "reserved"}}
            ),
        ),
        {("reserved-prefix-added", True, False), ("error-added", False, True)},
    ),
    "payload validation relaxed": (
        "arsel",
        None,
        lambda d: x_ingest(d)["payload"].update(validation="when_defined"),
        {("payload-validation-widened", False, True)},
    ),
    "payload validation tightened": (
        "sendrealm",
        None,
        lambda d: x_ingest(d)["payload"].update(
            validation="required", undefined_event_error="payload_invalid"
        ),
        {("payload-validation-narrowed", True, False), ("error-use-changed", True, True)},
    ),
    "payload mismatch answers another error": (
        "sendrealm",
        None,
        lambda d: x_ingest(d)["payload"].update(mismatch_error="invalid_request"),
        {("error-use-changed", True, True)},
    ),
    "dedupe key changed": (
        "sendrealm",
        None,
        lambda d: x_ingest(d)["dedupe"].update(key_field="event"),
        {("dedupe-key-changed", True, True)},
    ),
    "dedupe body mismatch refused": (
        "sendrealm",
        None,
        lambda d: x_ingest(d)["dedupe"].update(on_body_mismatch="reject"),
        {("dedupe-mismatch-changed", True, True)},
    ),
    "dedupe replay status changed": (
        "sendrealm",
        None,
        lambda d: x_ingest(d)["dedupe"]["replay"].update(status=202),
        {("dedupe-replay-status-changed", True, True)},
    ),
    "dedupe removed": (
        "sendrealm",
        None,
        lambda d: x_ingest(d).pop("dedupe"),
        {("dedupe-removed", True, True)},
    ),
    "replay header dropped": (
        "sendrealm",
        None,
        lambda d: op(d)["responses"]["200"].pop("headers"),
        {("header-removed", False, False)},  # it was optional: clients could not rely on it
    ),
    "event field moved": (
        "arsel",
        None,
        lambda d: x_ingest(d).update(event_field="name"),
        {("event-field-changed", True, True)},
    ),
}


@pytest.mark.parametrize("case", sorted(SPECIFIC))
def test_each_spec_specific_class_of_change(case: str, tmp_path: Path) -> None:
    api, old_edit, new_edit, expected = SPECIFIC[case]
    old = edited(tmp_path, api, old_edit, "old") if old_edit else SPECS[api]
    new = edited(tmp_path, api, new_edit, "new") if new_edit else SPECS[api]
    changes = diff_paths(old, new)
    assert classified(changes) == expected, [c.message for c in changes]


def test_dedupe_scope_change_breaks_both_sides() -> None:
    # The x-ingest schema allows only `project` today, so the model is edited directly.
    old = load_spec(SPECS["sendrealm"])
    operation = old.operations[0]
    assert operation.ingest is not None and operation.ingest.dedupe is not None
    dedupe = dataclasses.replace(operation.ingest.dedupe, scope="organization")
    ingest = dataclasses.replace(operation.ingest, dedupe=dedupe)
    new = dataclasses.replace(old, operations=(dataclasses.replace(operation, ingest=ingest),))
    (change,) = diff_specs(old, new).changes
    assert (change.kind, change.old, change.new) == ("dedupe-scope-changed", "project", "organization")
    assert change.breaking_for_clients and change.breaking_for_servers
    assert change.location == "ingestEvent x-ingest.dedupe.scope"


def test_a_change_names_its_place_and_values(tmp_path: Path) -> None:
    (change,) = diff_paths(
        SPECS["arsel"], edited(tmp_path, "arsel", lambda d: field(d, "email").update(maxLength=64))
    )
    assert change == Change(
        kind="max-length-narrowed",
        location="sendEvent request.email",
        old=320,
        new=64,
        breaking_for_clients=True,
        breaking_for_servers=False,
        message="request field 'email': maxLength lowered from 320 to 64",
        pointer="/paths/~1events~1send/post/requestBody/content/application~1json/schema/properties/email",
    )


def test_several_edits_are_each_reported(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        field(d, "email").update(maxLength=64)
        request(d)["properties"]["source"] = {"type": "string"}
        x_ingest(d)["payload_limit"]["default_bytes"] = 1024

    changes = diff_paths(SPECS["arsel"], edited(tmp_path, "arsel", edit))
    assert classified(changes) == {
        ("max-length-narrowed", True, False),
        ("field-added", False, True),
        ("payload-limit-lowered", True, False),
    }


# --- the command ---------------------------------------------------------------------------------


def run(*args: str, color: bool = False) -> Any:
    return CliRunner().invoke(main, ["diff", *args], color=color)


def test_cli_reports_no_changes_and_exits_0() -> None:
    result = run("arsel", str(SPECS["arsel"]), "--fail-on", "breaking")
    assert result.exit_code == 0, result.output
    assert "no changes" in result.output


def test_cli_text_is_grouped_and_fails_on_breaking(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        field(d, "email").update(maxLength=64)
        request(d)["properties"]["source"] = {"type": "string"}
        x_ingest(d)["processing"]["max_attempts"] = 9

    new = edited(tmp_path, "arsel", edit)
    result = run("arsel", str(new), "--fail-on", "breaking")
    assert result.exit_code == 1, result.output
    assert "3 change(s): 1 breaking for clients, 1 breaking for servers" in result.output
    groups = [line for line in result.output.splitlines() if line and not line.startswith(" ")]
    assert groups[1:4] == ["Breaking for clients (1)", "Breaking for servers (1)", "Not breaking (1)"]
    assert "  max-length-narrowed  sendEvent request.email" in result.output
    assert "\x1b[" not in result.output  # not a terminal: no colour
    assert "Error: 1 change(s) are breaking" in result.output


def test_cli_colours_when_asked_for_a_terminal(tmp_path: Path) -> None:
    new = edited(tmp_path, "arsel", lambda d: field(d, "email").update(maxLength=64))
    result = run("arsel", str(new), color=True)
    assert result.exit_code == 0
    assert "\x1b[31m" in result.output  # red: breaking for clients


def test_fail_on_chooses_the_side(tmp_path: Path) -> None:
    new = str(
        edited(tmp_path, "sendrealm", lambda d: request(d)["properties"].update(source={"type": "string"}))
    )
    assert run("sendrealm", new, "--fail-on", "breaking").exit_code == 0
    assert run("sendrealm", new, "--fail-on", "server-breaking").exit_code == 1
    assert run("sendrealm", new, "--fail-on", "any-breaking").exit_code == 1
    assert run("sendrealm", new).exit_code == 0


def test_cli_json(tmp_path: Path) -> None:
    new = edited(tmp_path, "sendrealm", lambda d: x_ingest(d)["identity"]["fields"].reverse())
    result = run("sendrealm", str(new), "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["old"] == "openapi/sendrealm.yaml" or document["old"].endswith("openapi/sendrealm.yaml")
    assert document["summary"] == {"changes": 1, "breaking_for_clients": 1, "breaking_for_servers": 1}
    (change,) = document["changes"]
    assert change["kind"] == "identity-order-changed"
    assert change["old"] == ["contact_id", "external_id", "email"]
    assert change["new"] == ["email", "external_id", "contact_id"]
    assert set(change) == {
        "kind",
        "location",
        "old",
        "new",
        "breaking_for_clients",
        "breaking_for_servers",
        "message",
        "pointer",
    }


def test_cli_markdown(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        catalogue(d)["unauthorized"]["message"] = "Key | missing"
        request(d)["properties"]["source"] = {"type": "string"}

    result = run(
        "arsel", str(edited(tmp_path, "arsel", edit)), "--format", "markdown", "--fail-on", "breaking"
    )
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("### `")
    assert "| | change | where | clients | servers |" in lines
    assert any(line.startswith("| 🔴 |") and "Key \\| missing" in line for line in lines)
    assert any(line.startswith("| 🟡 |") and "`field-added`" in line for line in lines)


def test_cli_refuses_what_is_not_a_spec(tmp_path: Path) -> None:
    result = run("arsel", str(tmp_path / "absent.yaml"))
    assert result.exit_code == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 4.0.0\n")
    result = run(str(broken), "arsel")
    assert result.exit_code == 2
    assert "#/openapi: only OpenAPI 3.1 and 3.0" in result.output


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away git repository holding the Arsel spec, tagged v1, with the working copy edited."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "repo"
    (root / "openapi").mkdir(parents=True)
    shutil.copy(SPECS["arsel"], root / "openapi" / "arsel.yaml")

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "empty")
    git("add", "openapi/arsel.yaml")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "spec")
    git("tag", "v1")
    document = yaml.safe_load((root / "openapi" / "arsel.yaml").read_text())
    field(document, "email")["maxLength"] = 64
    (root / "openapi" / "arsel.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    monkeypatch.chdir(root)
    return root


def test_git_revisions_as_input(repo: Path) -> None:
    result = run("v1:openapi/arsel.yaml", "openapi/arsel.yaml", "--fail-on", "breaking")
    assert result.exit_code == 1, result.output
    assert result.output.startswith("v1:openapi/arsel.yaml -> openapi/arsel.yaml: 1 change(s)")
    assert "max-length-narrowed" in result.output
    # An API name after the revision means openapi/NAME.yaml; two revisions compare committed versions.
    assert run("main:arsel", "openapi/arsel.yaml", "--format", "json").exit_code == 0
    result = run("v1:arsel", "main:openapi/arsel.yaml", "--fail-on", "any-breaking")
    assert result.exit_code == 0 and "no changes" in result.output


def test_an_unknown_revision_is_a_usage_problem(repo: Path) -> None:
    result = run("v9:openapi/arsel.yaml", "openapi/arsel.yaml")
    assert result.exit_code == 2
    assert "v9:openapi/arsel.yaml" in result.output
    result = run("v1:openapi/absent.yaml", "openapi/arsel.yaml")
    assert result.exit_code == 2


def test_make_diff_release_compares_with_the_last_tag(repo: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(REPO / "Makefile", repo / "Makefile")
    # -o: the throw-away repository has no .venv to build; run the tools of the one running the tests.
    command = ["make", "--no-print-directory", "-o", ".venv/.installed-stamp", "diff-release"]
    command.append(f"BIN={Path(sys.executable).parent}")
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "v1:openapi/arsel.yaml -> openapi/arsel.yaml: 1 change(s)" in result.stdout
    assert "openapi/sendrealm.yaml: not in v1, nothing to compare" in result.stdout
    # With no release tag (a CI clone may have none) it says so and compares nothing.
    subprocess.run(["git", "tag", "-d", "v1"], cwd=repo, check=True, capture_output=True)
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "diff-release: no release tag in this clone" in result.stdout
    assert "->" not in result.stdout
    # A revision can still be named.
    result = subprocess.run(
        [*command, "RELEASE_REF=main"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert "main:openapi/arsel.yaml -> openapi/arsel.yaml: 1 change(s)" in result.stdout


def test_the_pre_commit_hooks_run_the_designer_loop() -> None:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ingestspec-lint", "ingestspec-generate-check", "ingestspec-diff"} <= set(hooks)
    assert "generate-check" in hooks["ingestspec-generate-check"]["entry"]
    assert hooks["ingestspec-diff"]["entry"].endswith("-m ingestspec.generator.cli.precommit diff")
    assert all(repo["repo"] == "local" for repo in config["repos"])
    # The local hooks run what the published ones run (tests/generator/test_hooks.py installs those).
    published = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    for name, hook in published.items():
        assert hooks[name]["entry"].split("/")[-1].startswith(hook["entry"].split(" ")[0]), name


def test_cli_text_snapshot(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        field(d, "email").update(maxLength=64)
        request(d)["properties"]["source"] = {"type": "string"}
        x_ingest(d)["processing"]["max_attempts"] = 9
        catalogue(d)["unauthorized"]["message"] = "Unknown API key"

    result = run("arsel", str(edited(tmp_path, "arsel", edit)))
    assert result.exit_code == 0
    first, *rest = result.output.splitlines()
    assert first.endswith("/arsel.yaml: 4 change(s): 2 breaking for clients, 2 breaking for servers")
    assert "\n".join(rest) == SNAPSHOT


SNAPSHOT = """
Breaking for clients and servers (1)
  error-message-changed  sendEvent x-ingest.errors.catalogue.unauthorized.message
      error 'unauthorized': message changed from 'Invalid or missing API key' to 'Unknown API key'

Breaking for clients (1)
  max-length-narrowed  sendEvent request.email
      request field 'email': maxLength lowered from 320 to 64

Breaking for servers (1)
  field-added  sendEvent request.source
      optional request field 'source' was added

Not breaking (1)
  processing-changed  sendEvent x-ingest.processing
      processing changed: max_attempts 5 -> 9

Breaking for clients: a client written against OLD may fail against a server built from NEW.
Breaking for servers: a server still built from OLD mishandles clients written against NEW."""
