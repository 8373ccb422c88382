"""The request-level scenarios and batch_partial_acceptance on a batch operation: the batch of
tests/generated_server/specs/tracker.yaml, served by its generated server, which answers them right;
a fault that breaks a batch's answer is caught."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ingestspec.contract_tests.scenarios import SCENARIOS
from ingestspec.contract_tests.session import Session
from ingestspec.contract_tests.target import Target, load_target
from tests.conftest import EXAMPLE_CONFIG, REPO
from tests.contract.conftest import ACME_KEY, GLOBEX_KEY, generate
from tests.servers import RunningServer, running_server

TRACKER = REPO / "tests" / "generated_server" / "specs" / "tracker.yaml"
# Scenarios about the request as a whole, which a batch answers like a single event.
REQUEST_LEVEL = (
    "missing_api_key",
    "invalid_api_key",
    "wrong_content_type",
    "oversize_body",
    "malformed_json",
    "unknown_route",
    "method_not_allowed",
)


def _serve(folder: Path, spec: Path) -> Iterator[RunningServer]:
    generate(spec, folder / "tracker_api")
    db = f"sqlite:///{folder / 'events.db'}"
    with running_server(
        "tracker_api", EXAMPLE_CONFIG, db, "/v1", log_dir=folder, pythonpath=folder
    ) as running:
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from _serve(tmp_path_factory.mktemp("tracker"), TRACKER)


def _target(spec: Path, base_url: str) -> Target:
    return load_target(spec, base_url, (ACME_KEY, GLOBEX_KEY), EXAMPLE_CONFIG)


def _run(target: Target, name: str) -> Session:
    op = next(o for o in target.spec.operations if o.operation_id == "batch")
    reason = SCENARIOS[name].skip_reason(target, op)
    assert reason is None, f"{name} is skipped for a batch: {reason}"
    session = Session(target, op, name)
    SCENARIOS[name].run(session)
    return session


@pytest.mark.parametrize("name", [*REQUEST_LEVEL, "batch_partial_acceptance"])
def test_a_batch_runs_the_request_level_scenarios_and_passes(server: RunningServer, name: str) -> None:
    session = _run(_target(TRACKER, server.base_url), name)
    assert session.probes
    assert not session.failures, session.report()


def test_partial_acceptance_judges_each_result(server: RunningServer) -> None:
    target = _target(TRACKER, server.base_url)
    session = _run(target, "batch_partial_acceptance")
    reply = session.probes[0].reply
    assert reply is not None and reply.status == 200
    results = reply.json()["results"]
    missing = session.ingest.errors.catalogue[session.ingest.identity.missing_error]
    assert [r["status"] for r in results] == [202, missing.status]
    assert results[0]["id"] and results[1]["id"] is None and results[1]["error"]


def test_a_refused_item_without_its_catalogue_body_is_caught(
    server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The spec copy documents another message for a missing identity than the server answers.
    document = yaml.safe_load(TRACKER.read_text())
    block = document["paths"]["/batch"]["post"]["x-ingest"]
    entry = block["errors"]["catalogue"][block["identity"]["missing_error"]]
    entry["message"] = "contract-test: some other message"
    spec = tmp_path_factory.mktemp("other_message") / "tracker.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False))
    session = _run(_target(spec, server.base_url), "batch_partial_acceptance")
    assert [f.check for _, f in session.failures] == ["batch_results"], session.report()
    assert "catalogue body" in session.report()
