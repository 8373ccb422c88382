"""The suite on a spec nobody modelled it on (`specs/pulsegrid/`): an integer and a patterned identity,
a pattern on the event name, a header idempotency key with its own pattern, epoch milliseconds, a
nested error envelope with details, a 2048-byte cap, `format: uri` in an event definition, a rate
limit with a documented 429 and an optional response header. The server generated from it passes
on several seeds (no false alarm), and a deliberate fault in it is caught."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from generator.loader import load_spec
from tests.contract.conftest import INGESTSPEC
from tests.contract.faults.test_faults import failed_tests
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
    subprocess.run([str(INGESTSPEC), "generate", str(SPEC), "--out", str(folder / "pulsegrid")], check=True)
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


@pytest.mark.parametrize("seed", ["1", "2", "3"])
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
