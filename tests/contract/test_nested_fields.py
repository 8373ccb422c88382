"""The scenarios on a single-event operation whose fields are all below the top level
(specs/nested/openapi.yaml: the contact at `/context/traits/email` or `/properties/distinct_id`, the
time, the idempotency key and the payload inside objects), against its generated server, which
answers them right: the suite sets and removes each field at its JSON Pointer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestspec.contract_tests.scenarios import SCENARIOS
from ingestspec.contract_tests.session import Session
from ingestspec.contract_tests.target import Target, load_target
from tests.conftest import EXAMPLE_CONFIG
from tests.contract.conftest import ACME_KEY, GLOBEX_KEY, generated_and_served
from tests.servers import RunningServer

NESTED = Path(__file__).resolve().parent / "specs" / "nested" / "openapi.yaml"
# The scenarios about one event's fields, which read or write them where the spec puts them.
FIELD_SCENARIOS = (
    "success",
    "missing_identity",
    "identity_conflict",
    "undefined_event",
    "payload_schema_mismatch",
    "reserved_prefix",
    "invalid_envelope",
    "email_normalisation",
    "replay_same_body",
    "reused_key_different_body",
    "dedupe_scoped_to_project",
    "concurrent_same_key",
    "definitions_per_project",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with generated_and_served(NESTED, "nested_api", tmp_path_factory.mktemp("nested")) as running:
        yield running


def _run(base_url: str, name: str) -> Session:
    target: Target = load_target(NESTED, base_url, (ACME_KEY, GLOBEX_KEY), EXAMPLE_CONFIG)
    op = target.spec.operation("track")
    reason = SCENARIOS[name].skip_reason(target, op)
    assert reason is None, f"{name} is skipped: {reason}"
    session = Session(target, op, name)
    SCENARIOS[name].run(session)
    return session


@pytest.mark.parametrize("name", FIELD_SCENARIOS)
def test_each_scenario_passes_on_a_server_reading_nested_fields(server: RunningServer, name: str) -> None:
    session = _run(server.base_url, name)
    assert session.probes
    assert not session.failures, session.report()


def test_the_constraint_phase_passes_on_a_server_reading_nested_fields(server: RunningServer) -> None:
    from ingestspec.contract_tests import constraints

    target = load_target(NESTED, server.base_url, (ACME_KEY, GLOBEX_KEY), EXAMPLE_CONFIG)
    session = Session(target, target.spec.operation("track"), constraints.SOURCE)
    sent = constraints.run(session)
    assert any(c.where == "/context/message_id" for c in sent)
    assert not session.failures, session.report()
