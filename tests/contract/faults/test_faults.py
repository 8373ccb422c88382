"""The suite catches broken servers: each deliberate fault, installed alone in a generated server,
makes `ingestspec contract` exit 1. The detection table is printed at the end of the run."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingestspec.contract_tests.depth import FUZZ_ENV
from ingestspec.generator.spec.loader import load_spec
from tests.conftest import EXAMPLE_CONFIG, SPECS
from tests.contract.conftest import BASE_PATHS, generated, run_contract
from tests.contract.faults.catalogue import FAULTS, TRANSPORT_FAULTS
from tests.contract.faults.outcome import failed_tests
from tests.servers import running_server

# The documented scenarios catch every fault here; fuzzing adds little but time.
FUZZ_EXAMPLES = "1"


def cases() -> list[Any]:
    """Each fault once, on the APIs it applies to in turn (on every one of them under `make test-deep`).
    A fault `make test` already shows caught on another spec (the corpus, the published files) runs
    here under `make test-deep` only."""
    apis = ("arsel", "sendrealm")
    ops = {api: load_spec(SPECS[api]).ingest_operations[0] for api in apis}
    result: list[Any] = []
    contract = [fault for fault in FAULTS.values() if fault.name not in TRANSPORT_FAULTS]
    elsewhere = shown_elsewhere()
    for index, fault in enumerate(contract):
        where = [api for api, op in ops.items() if fault.applies_to(op)]
        if os.environ.get(FUZZ_ENV):
            result += [(api, fault.name) for api in where]
        else:
            marks = [pytest.mark.deep] if fault.name in elsewhere else []
            result.append(pytest.param(where[index % len(where)], fault.name, marks=marks))
    return result


def shown_elsewhere() -> set[str]:
    """The faults the corpus and the published files show caught on their own specs in `make test`."""
    from tests.corpus.cases import SERVED as CORPUS
    from tests.vendor_files.test_vendor_files import SERVED as PUBLISHED

    return {
        detection.fault
        for case in (*CORPUS, *PUBLISHED)
        for detection in case.detections()
        if not detection.xfail
    }


@pytest.mark.parametrize(("api", "fault"), cases())
def test_the_suite_detects_the_fault(
    api: str, fault: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    if not generated(api):
        pytest.skip(f"generated_server/{api} has not been generated yet")
    extra = ["--package", f"generated_server.{api}", "--fault", fault]
    db = f"sqlite:///{tmp_path / 'events.db'}"
    module = "tests.contract.faults.run"
    with running_server(module, EXAMPLE_CONFIG, db, BASE_PATHS[api], log_dir=tmp_path, extra=extra) as server:
        result = run_contract(SPECS[api], server.base_url, "--max-examples", FUZZ_EXAMPLES)
    caught_by = failed_tests(result.stdout)
    record_property(
        "fault_detection", {"api": api, "fault": fault, "code": result.returncode, "by": caught_by}
    )
    assert result.returncode == 1, (
        f"fault {fault} went undetected:\n{result.stdout[-4000:]}{result.stderr[-2000:]}"
    )
    assert caught_by


# Faults that break a plain request constraint; the constraint phase must catch each on every seed.
CONSTRAINT_FAULTS = ("payload_missing_accepted", "bad_timestamp_accepted", "identity_format_unchecked")
SEEDS = ("1", "2", "3")


def constraint_cases() -> list[tuple[str, str]]:
    ops = {api: load_spec(SPECS[api]).ingest_operations[0] for api in ("arsel", "sendrealm")}
    return [
        (api, name) for name in CONSTRAINT_FAULTS for api, op in ops.items() if FAULTS[name].applies_to(op)
    ]


@pytest.mark.deep
@pytest.mark.parametrize(("api", "fault"), constraint_cases())
def test_the_constraint_phase_catches_it_on_every_seed(api: str, fault: str, tmp_path: Path) -> None:
    if not generated(api):
        pytest.skip(f"generated_server/{api} has not been generated yet")
    extra = ["--package", f"generated_server.{api}", "--fault", fault]
    db = f"sqlite:///{tmp_path / 'events.db'}"
    module = "tests.contract.faults.run"
    with running_server(module, EXAMPLE_CONFIG, db, BASE_PATHS[api], log_dir=tmp_path, extra=extra) as server:
        for seed in SEEDS:
            result = run_contract(
                SPECS[api], server.base_url, "--max-examples", FUZZ_EXAMPLES, "--seed", seed
            )
            assert result.returncode == 1, f"seed {seed}: {fault} went undetected:\n{result.stdout[-4000:]}"
            assert "constraints" in failed_tests(result.stdout), f"seed {seed}:\n{result.stdout[-4000:]}"
