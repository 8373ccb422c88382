"""The constraint phase's derivation, offline: which constraints each spec gets, and that every
broken body breaks the request schema and every inside body keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestspec.contract_tests.bodies import Bodies
from ingestspec.contract_tests.constraints import Constraint, _email, derive, skip_reason
from ingestspec.contract_tests.payloads import is_valid
from ingestspec.contract_tests.target import Target, load_target
from tests.contract.conftest import offline_target

PULSEGRID = Path(__file__).resolve().parent / "specs" / "pulsegrid"


def pulsegrid_target() -> Target:
    import yaml

    config = yaml.safe_load((PULSEGRID / "config.yaml").read_text())
    keys = tuple(project["api_keys"][0] for project in config["projects"][:2])
    return load_target(PULSEGRID / "openapi.yaml", "http://127.0.0.1:9", keys, PULSEGRID / "config.yaml",
                       check_reachable=False)  # fmt: skip


def derived(target: Target) -> list[tuple[Bodies, Constraint]]:
    found = []
    for op in target.spec.ingest_operations:
        if skip_reason(op):
            continue
        bodies = Bodies(target, op)
        event = bodies.accepted_event(target.project)
        assert event is not None
        found += [(bodies, c) for c in derive(bodies, bodies.valid(event))]
    return found


def labels(target: Target) -> set[str]:
    return {c.label for _, c in derived(target)}


def test_arsel_gets_the_three_constraints_issue_10_saw_missed() -> None:
    found = labels(offline_target("arsel"))
    assert {"/data required broken", "/timestamp format broken", "/contact_id format broken"} <= found
    assert "/ additionalProperties broken" in found


def test_sendrealm_gets_bounds_inside_and_out() -> None:
    found = labels(offline_target("sendrealm"))
    assert {
        "/occurred_at format broken",
        "/external_id maxLength broken",
        "/external_id maxLength inside",
    } <= found
    # The idempotency key's bounds are broken but never tried inside (a short key may replay).
    assert "/idempotency_key maxLength broken" in found
    assert not any(label.startswith("/idempotency_key") and label.endswith("inside") for label in found)


@pytest.mark.parametrize("name", ["arsel", "sendrealm", "pulsegrid"])
def test_broken_bodies_break_the_schema_and_inside_ones_keep_it(name: str) -> None:
    target = pulsegrid_target() if name == "pulsegrid" else offline_target(name)
    found = derived(target)
    assert found
    for bodies, constraint in found:
        body = {k: v for k, v in constraint.body.items() if not k.startswith("\x00")}
        if constraint.headers or constraint.query:
            continue  # a parameter's constraint: the body stays valid
        assert is_valid(bodies.schema, body) == constraint.inside, constraint.label


def test_pulsegrid_parameters_and_patterns_are_derived() -> None:
    found = labels(pulsegrid_target())
    assert any(label.startswith("header ") for label in found), found
    assert any(label.endswith("pattern broken") for label in found), found


def test_an_email_of_an_exact_length() -> None:
    bodies = Bodies(offline_target("arsel"), offline_target("arsel").spec.ingest_operations[0])
    for length in (50, 100, 254):
        email = _email(bodies, length)
        assert len(email) == length and is_valid({"type": "string", "format": "email"}, email)
