"""The pytest side of the suite: options, the run-wide fixtures, test parametrisation from the spec,
and the end-of-run report (failures by operation and check, the conformance matrix).

`contract_tests/conftest.py` loads this, so `pytest contract_tests --spec ... --base-url ...
--api-key ... --config ...` runs the suite; `ingestspec contract` runs the same thing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from . import apikeys
from .catalogue import documented_error_examples
from .constraints import skip_reason as constraints_skip_reason
from .exchange import TIMEOUT
from .fuzz import MODES
from .fuzz import skip_reason as fuzz_skip_reason
from .records import RECORDS_ENV, Recorder, read_records
from .report import render_constraints, render_failures, render_fuzzing, render_matrix
from .scenarios import SCENARIOS
from .target import RUN_ENV, SEED_ENV, Target, TargetError, load_target

_TARGET = pytest.StashKey[Target]()
_OWNED = pytest.StashKey[tuple[Path, dict[str, str | None]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ingestspec contract", "ingestspec contract suite")
    group.addoption("--spec", help="the OpenAPI file of the API under test")
    group.addoption("--base-url", help="the API's base URL, as a servers entry would give it")
    group.addoption(
        "--api-key",
        action="append",
        default=[],
        help="an API key; a second one (another project) enables isolation checks",
    )
    group.addoption(
        "--api-key-file",
        default=None,
        help=f"a file of API keys, one a line (else {apikeys.ENV}, {apikeys.ENV}_2)",
    )
    group.addoption("--config", dest="contract_config", help="the deployment's server configuration file")
    group.addoption("--max-examples", type=int, default=None, help="fuzzed cases per operation and mode")
    group.addoption("--seed", dest="contract_seed", type=int, default=None, help="seed for the fuzzer")


def pytest_configure(config: pytest.Config) -> None:
    spec = config.getoption("--spec", None)
    if spec is None:
        raise pytest.UsageError("contract_tests needs --spec, --base-url, --api-key and --config")
    is_worker = hasattr(config, "workerinput")
    if not is_worker:
        # A fresh run id and records directory for this run; workers inherit both from the environment.
        saved = {name: os.environ.get(name) for name in (RUN_ENV, SEED_ENV, RECORDS_ENV)}
        directory = Path(tempfile.mkdtemp(prefix="ingestspec-contract-"))
        os.environ.pop(RUN_ENV, None)
        os.environ.pop(SEED_ENV, None)
        os.environ[RECORDS_ENV] = str(directory)
        config.stash[_OWNED] = (directory, saved)
    try:
        keys = apikeys.resolve(config.getoption("--api-key") or (), config.getoption("--api-key-file"))
    except apikeys.KeyProblem as exc:
        raise pytest.UsageError(str(exc)) from exc
    try:
        target = load_target(
            spec,
            config.getoption("--base-url") or "",
            keys,
            config.getoption("contract_config") or "",
            max_examples=config.getoption("--max-examples"),
            seed=config.getoption("contract_seed"),
            check_reachable=not is_worker,
        )
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from exc
    config.stash[_TARGET] = target


def pytest_unconfigure(config: pytest.Config) -> None:
    owned = config.stash.get(_OWNED, None)
    if owned is None:
        return
    directory, saved = owned
    shutil.rmtree(directory, ignore_errors=True)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def pytest_report_header(config: pytest.Config) -> list[str]:
    target = config.stash.get(_TARGET, None)
    if target is None:
        return []
    projects = ", ".join(p.id for p in target.projects)
    return [
        f"contract: {target.spec.title} {target.spec.version} at {target.base_url} (projects: {projects})",
        f"contract: run {target.run_id}; every created event is marked contract-test-{target.run_id}; "
        f"{target.max_examples} fuzzed cases per operation and mode, seed {target.seed} (--seed to repeat)",
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    target = metafunc.config.stash.get(_TARGET, None)
    if target is None:
        return
    ops = target.spec.ingest_operations
    if "scenario_case" in metafunc.fixturenames:
        params = []
        for op in ops:
            for sc in SCENARIOS.values():
                reason = sc.skip_reason(target, op)
                marks = [pytest.mark.skip(reason=reason)] if reason else []
                params.append(pytest.param((op, sc), id=f"{op.operation_id}-{sc.name}", marks=marks))
        metafunc.parametrize("scenario_case", params)
    if "constraint_case" in metafunc.fixturenames:
        params = []
        for op in ops:
            reason = constraints_skip_reason(op)
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            params.append(pytest.param(op, id=op.operation_id, marks=marks))
        metafunc.parametrize("constraint_case", params)
    if "fuzz_case" in metafunc.fixturenames:
        params = []
        for op in target.spec.operations:
            for mode in MODES:
                reason = fuzz_skip_reason(target, op, mode)
                marks = [pytest.mark.skip(reason=reason)] if reason else []
                params.append(pytest.param((op, mode), id=f"{op.operation_id}-{mode}", marks=marks))
        metafunc.parametrize("fuzz_case", params)
    if "example_case" in metafunc.fixturenames:
        params = [
            pytest.param((op, status, name, value), id=f"{op.operation_id}-{status}-{name}")
            for op in ops
            for status, name, value in documented_error_examples(op)
        ]
        metafunc.parametrize("example_case", params)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Every report of a test (the console's and the JUnit file's) with the run's keys masked."""
    report: pytest.TestReport = yield
    if report.longrepr is not None:
        text = str(report.longrepr)
        if apikeys.masks(text):
            report.longrepr = apikeys.mask(text)
    report.sections = [(title, apikeys.mask(content)) for title, content in report.sections]
    return report


@pytest.fixture(scope="session")
def contract_target(pytestconfig: pytest.Config) -> Target:
    """The deployment under test."""
    return pytestconfig.stash[_TARGET]


@pytest.fixture(scope="session")
def contract_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=TIMEOUT) as client:
        yield client


@pytest.fixture(scope="session")
def contract_recorder() -> Recorder:
    return Recorder.from_environment()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    target = config.stash.get(_TARGET, None)
    owned = config.stash.get(_OWNED, None)
    if target is None or owned is None:
        return
    records = list(read_records(owned[0]))
    terminalreporter.section("ingestspec contract")
    terminalreporter.write_line(
        f"{len(records)} replies judged; events created by this run are marked contract-test-{target.run_id}"
    )
    terminalreporter.write_line(render_constraints(records))
    terminalreporter.write_line(render_fuzzing(records))
    terminalreporter.write_line(render_failures(records))
    terminalreporter.write_line("")
    terminalreporter.write_line(render_matrix(target.spec, records))
