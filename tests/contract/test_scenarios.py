"""Scenarios are derived from the model: which apply, and what they expect, follows the spec."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from ingestspec.contract_tests.bodies import Bodies
from ingestspec.contract_tests.catalogue import documented_error_examples, identify
from ingestspec.contract_tests.payloads import is_valid
from ingestspec.contract_tests.scenarios import SCENARIOS, applicable, example_candidates, producers
from ingestspec.contract_tests.target import load_target
from ingestspec.generator.lint.linter import lint
from ingestspec.generator.spec.migrate import upgrade
from tests.conftest import EXAMPLE_CONFIG
from tests.contract.conftest import ACME_KEY, GLOBEX_KEY, offline_target
from tests.specs import edited


def skipped(api: str, *keys: str) -> set[str]:
    target = offline_target(api, *keys)
    return {s.name for s, reason in applicable(target, target.spec.ingest_operations[0]) if reason}


def test_each_spec_skips_what_its_x_ingest_block_does_not_describe() -> None:
    assert skipped("arsel") == {
        "reserved_prefix",
        "identity_resolution_order",
        "email_normalisation",
        "replay_same_body",
        "reused_key_different_body",
        "dedupe_scoped_to_project",
        "concurrent_same_key",
        "rate_limited",
        "batch_partial_acceptance",
        "batch_two_projects",
        "encoded_body",
    }
    assert skipped("sendrealm") == {
        "identity_conflict",
        "rate_limited",
        "batch_partial_acceptance",
        "batch_two_projects",
        "encoded_body",
    }


def test_isolation_scenarios_need_a_second_key() -> None:
    assert {"dedupe_scoped_to_project", "definitions_per_project"} <= skipped("sendrealm", ACME_KEY)


def test_every_error_an_operation_can_answer_has_a_scenario_provoking_it(api: str) -> None:
    op = offline_target(api).spec.ingest_operations[0]
    assert op.ingest is not None
    table = producers(op)
    for key in op.ingest.used_errors():
        assert table[key] in SCENARIOS


def test_every_documented_error_example_is_a_catalogue_error(api: str) -> None:
    op = offline_target(api).spec.ingest_operations[0]
    examples = list(documented_error_examples(op))
    assert examples
    for status, name, value in examples:
        assert example_candidates(op, status, value), (status, name)


@pytest.mark.parametrize("api", ["arsel", "sendrealm"])
def test_valid_bodies_follow_the_identity_rule_and_are_marked(api: str) -> None:
    target = offline_target(api)
    op = target.spec.ingest_operations[0]
    bodies = Bodies(target, op)
    event = bodies.accepted_event(target.project)
    assert event is not None and event.name in target.project.events
    body = bodies.valid(event)
    assert op.ingest is not None
    assert len([name for name in op.ingest.identity.names if name in body]) == 1
    assert bodies.is_marked(body)
    assert bodies.undefined_event_name(target.project) not in target.project.events


def _required_through_branches(document: dict[str, Any]) -> None:
    """Arsel's request with fields required as vendors write it: `channel` inside every `anyOf`
    branch, and one of `region` or `zone` (the body must pick a branch)."""
    schema = document["components"]["schemas"]["SendEventRequest"]
    schema["properties"].update(
        channel={"type": "string", "enum": ["api", "web"]},
        region={"type": "string", "minLength": 2},
        zone={"type": "integer", "minimum": 1},
    )
    schema["allOf"] = [
        {"anyOf": [{"required": ["channel"]}, {"required": ["channel", "zone"]}]},
        {"anyOf": [{"required": ["region"]}, {"required": ["zone"]}]},
    ]


def test_valid_bodies_fill_what_every_branch_requires(tmp_path: Path) -> None:
    """False alarm C of issue 20: scenario bodies filled only the top-level `required`."""
    spec = edited(tmp_path, "arsel", _required_through_branches)
    target = load_target(
        spec, "http://127.0.0.1:9", (ACME_KEY, GLOBEX_KEY), EXAMPLE_CONFIG, check_reachable=False
    )
    op = target.spec.ingest_operations[0]
    bodies = Bodies(target, op)
    event = bodies.accepted_event(target.project)
    assert event is not None
    body = bodies.valid(event)
    assert is_valid(op.request_schema, body), body
    assert body["channel"] in ("api", "web")


def test_examples_of_documented_only_statuses_are_not_judged_by_the_catalogue(tmp_path: Path) -> None:
    """False alarm B of issue 20: lint and the x-ingest schema exempt them; the suite did not."""

    def vendor_conflict(document: dict[str, Any]) -> None:
        operation = document["paths"]["/events/send"]["post"]
        conflict = copy.deepcopy(operation["responses"]["400"])
        conflict["description"] = "The vendor's own: a duplicate (not answered by this server)."
        media = conflict["content"]["application/json"]
        media["examples"] = {"duplicate": {"value": {"message": "Already sent", "code": "duplicate"}}}
        operation["responses"]["409"] = conflict
        operation["x-ingest"] = {**upgrade(operation["x-ingest"]), "documented_only": [409]}

    spec = edited(tmp_path, "arsel", vendor_conflict)
    assert [p for p in lint(spec) if p.severity == "error"] == []
    target = load_target(
        spec, "http://127.0.0.1:9", (ACME_KEY, GLOBEX_KEY), EXAMPLE_CONFIG, check_reachable=False
    )
    statuses = {status for status, _, _ in documented_error_examples(target.spec.ingest_operations[0])}
    assert statuses and 409 not in statuses


def test_a_documented_error_example_may_carry_per_request_members() -> None:
    """Intercom's 401 example carries a `request_id` no catalogue entry places: it is identified by
    the members the entry places (as lint's error-examples-match-the-catalogue reads it), while a
    reply is still judged exactly (the identification of replies allows no extra member)."""
    folder = Path(__file__).parents[1] / "vendor_files" / "intercom"
    target = load_target(
        folder / "openapi.yaml",
        "http://127.0.0.1:9",
        ("dG9rOmludGVyY29tX2V1XzRmMmI5YTdj",),
        folder / "config.yaml",
        check_reachable=False,
    )
    op = target.spec.ingest_operations[0]
    assert op.ingest is not None
    [(status, _, value)] = list(documented_error_examples(op))
    assert status == 401 and "request_id" in value
    assert example_candidates(op, status, value) == ["unauthorized"]
    assert identify(op.ingest, status, value) == []
