"""The suite on a spec nobody modelled it on (`specs/pulsegrid/`): an integer and a patterned identity,
a pattern on the event name, a header idempotency key with its own pattern, epoch milliseconds, a
nested error envelope with details, a 2048-byte cap, `format: uri` in an event definition, a rate
limit with a documented 429 and an optional response header. The server generated from it passes
on several seeds (no false alarm), and a deliberate fault in it is caught."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import jsonschema_rs
import pytest
import yaml

from ingestspec.contract_tests.bodies import KEY_SLOT, Bodies
from ingestspec.contract_tests.catalogue import documented_error_examples
from ingestspec.contract_tests.checks import CheckContext, required_headers
from ingestspec.contract_tests.fuzz import load_schema
from ingestspec.contract_tests.payloads import is_valid, minimal_payload
from ingestspec.contract_tests.scenarios import example_candidates, provokers
from ingestspec.contract_tests.target import Target, load_target
from ingestspec.generator.spec.loader import load_spec
from tests.contract.conftest import INGESTSPEC, generate
from tests.contract.faults.outcome import failed_tests
from tests.servers import RunningServer, running_server

HERE = Path(__file__).resolve().parent / "specs" / "pulsegrid"
SPEC = HERE / "openapi.yaml"
CONFIG = HERE / "config.yaml"
BASE_PATH = "/api"
EXAMPLES = "25"


def keys() -> tuple[str, ...]:
    projects = yaml.safe_load(CONFIG.read_text())["projects"]
    return tuple(project["api_keys"][0] for project in projects)


def contract(base_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """`ingestspec contract` on the third spec with both projects' keys and its own configuration."""
    command = [str(INGESTSPEC), "contract", str(SPEC), "--base-url", base_url, "--config", str(CONFIG)]
    for key in keys():
        command += ["--api-key", key]
    return subprocess.run([*command, *extra], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server generated from the third spec, in a temporary folder (its parent goes on PYTHONPATH)."""
    folder = tmp_path_factory.mktemp("pulsegrid")
    generate(SPEC, folder / "pulsegrid")
    return folder


@pytest.fixture(scope="module")
def server(package: Path) -> Iterator[RunningServer]:
    db = f"sqlite:///{package / 'events.db'}"
    with running_server("pulsegrid", CONFIG, db, BASE_PATH, log_dir=package, pythonpath=package) as running:
        yield running


def test_the_spec_uses_what_the_other_specs_do_not() -> None:
    op = load_spec(SPEC).ingest_operations[0]
    ingest = op.ingest
    assert ingest is not None and ingest.dedupe is not None and ingest.rate_limit is not None
    assert ingest.dedupe.key.location == "header" and ingest.occurred_at_unit == "milliseconds"
    assert ingest.errors.message_pointer == "/error/message" and ingest.errors.details_pointer
    assert op.request_schema["properties"]["user_id"]["type"] == "integer"
    assert "pattern" in op.request_schema["properties"]["phone"]


@pytest.mark.parametrize(
    "seed", ["1", pytest.param("2", marks=pytest.mark.deep), pytest.param("3", marks=pytest.mark.deep)]
)
def test_the_generated_server_passes(server: RunningServer, seed: str) -> None:
    result = contract(server.base_url, "--max-examples", EXAMPLES, "--seed", seed)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "No failures." in result.stdout
    # The scenarios this spec brings are run, not skipped.
    passed = {line.split("[", 1)[1].split("]")[0] for line in result.stdout.splitlines() if " PASSED" in line}
    assert {
        "recordSignal-rate_limited",
        "recordSignal-identity_conflict",
        "recordSignal-replay_same_body",
        "recordSignal-oversize_body",
        "recordSignal-429-slowDown",
    } <= passed


@pytest.mark.parametrize(
    ("fault", "detector"),
    [("mismatched_key_replayed", "reused_key_different_body"), ("oversize_accepted", "oversize_body")],
)
def test_a_fault_is_caught(package: Path, tmp_path: Path, fault: str, detector: str) -> None:
    extra = ["--package", "pulsegrid", "--fault", fault]
    db = f"sqlite:///{tmp_path / 'events.db'}"
    with running_server(
        "tests.contract.faults.run", CONFIG, db, BASE_PATH, log_dir=tmp_path, extra=extra, pythonpath=package
    ) as faulty:
        result = contract(faulty.base_url, "--max-examples", "1", "--seed", "1")
    assert result.returncode == 1, result.stdout[-6000:]
    assert detector in failed_tests(result.stdout), result.stdout[-6000:]


# -- the false alarms issue 9 reports, each pinned offline ------------------------------------------


def offline() -> Target:
    return load_target(SPEC, "http://127.0.0.1:9", keys(), CONFIG, check_reachable=False)


def test_optional_response_headers_are_not_demanded() -> None:
    target = offline()
    ctx = CheckContext(target, target.spec.ingest_operations[0])
    assert required_headers(ctx, 202) == []  # X-Request-Id is documented, not required
    assert required_headers(ctx, 401) == ["WWW-Authenticate"]  # a bearer scheme's 401 (RFC 9110)
    assert required_headers(ctx, 429) == ["Retry-After"]


def test_every_value_sent_keeps_the_fields_own_schema() -> None:
    target = offline()
    op = target.spec.ingest_operations[0]
    bodies = Bodies(target, op)
    event = bodies.accepted_event(target.project)
    assert event is not None
    for _ in range(5):
        body = bodies.valid(event)
        key = body.pop(KEY_SLOT)
        assert is_valid(op.request_schema, body), body  # integer user_id or patterned phone, epoch ts
        assert is_valid(bodies.key_schema(), key)
    for field in op.ingest.identity.fields if op.ingest else ():
        assert is_valid(bodies.schema_of(field.name), bodies.identity_value(field))
    assert is_valid(bodies.schema_of("signal"), bodies.undefined_event_name(target.project))


def test_413_is_a_legitimate_rejection_of_invalid_data() -> None:
    schema = load_schema(SPEC, "http://127.0.0.1:9")
    checks = schema.config.checks_config_for(operation=schema["/ingest/v2/signals"]["post"], phase=None)
    assert "413" in checks.negative_data_rejection.expected_statuses


def test_formats_are_drawn_and_judged_as_the_server_does() -> None:
    definition = offline().project.events["checkout_started"].schema
    payload = minimal_payload(definition)
    assert payload is not None and payload["landing"]
    assert jsonschema_rs.validator_for(dict(definition), validate_formats=True).is_valid(payload)
    assert not is_valid(definition, {**payload, "landing": "not a uri"})


def test_a_documented_429_is_a_catalogue_error_provoked_by_rate_limited() -> None:
    op = offline().spec.ingest_operations[0]
    [(status, _, example)] = [e for e in documented_error_examples(op) if e[0] == 429]
    assert example_candidates(op, status, example) == ["slow_down"]
    assert provokers(op)["slow_down"] == ("rate_limited",)
