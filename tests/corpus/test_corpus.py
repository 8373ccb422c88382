"""Every spec of the corpus through the whole loop, as a new user would run it.

Served specs: `ingestspec lint` exit 0; `ingestspec generate` into a temporary folder; the generated
package started as a real process; `ingestspec contract` exit 0 on three seeds; an independent
Schemathesis run (`st run`, not-a-server-error and response-schema conformance) exit 0 with the key
sent as the spec's security scheme says; and one fault relevant to the API, installed in that same
generated server (`tests/corpus/faulty.py`), caught by the contract suite (exit 1, by the test that
judges that behaviour), plus any fault the suite is known to miss yet (xfail, with whose part it is).
Refused specs: lint exit 1 naming each place, and generate exit 2 writing nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.model import Operation
from tests.contract.faults.outcome import failed_tests
from tests.corpus.cases import REFUSED, SERVED, Detection, Refused, Served
from tests.servers import REPO, RunningServer, running_server

BIN = Path(sys.executable).parent
# Seed 1 in `make test`; the other two in `make test-deep`.
SEEDS = (1, pytest.param(2, marks=pytest.mark.deep), pytest.param(3, marks=pytest.mark.deep))
CONTRACT_EXAMPLES = "5"
ST_EXAMPLES = "20"
# Faults whose behaviour is a server error (the traceback is the fault, not a misfit).
CRASHING_FAULTS = {"server_error_on_bad_json"}


def run(*command: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd, timeout=600)


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"


@dataclass
class Deployment:
    """A corpus spec generated into a temporary package and served by a real process."""

    case: Served
    folder: Path  # holds the generated package
    base_path: str
    operation: Operation
    server: RunningServer | None = None
    verdicts: dict[int, subprocess.CompletedProcess[str]] = field(default_factory=dict)

    def contract(self, base_url: str, seed: int = 1) -> subprocess.CompletedProcess[str]:
        """`ingestspec contract` against `base_url` with both projects' keys."""
        first, second = self.case.keys()
        return run(
            BIN / "ingestspec", "contract", self.case.spec, "--base-url", base_url,
            "--api-key", first, "--api-key", second, "--config", self.case.config,
            "--max-examples", CONTRACT_EXAMPLES, "--seed", str(seed),
        )  # fmt: skip

    def verdict(self, seed: int) -> subprocess.CompletedProcess[str]:
        """The contract suite's verdict on the correct server for `seed`, run once."""
        assert self.server is not None
        if seed not in self.verdicts:
            self.verdicts[seed] = self.contract(self.server.base_url, seed)
        return self.verdicts[seed]


@contextmanager
def deployed(case: Served, folder: Path) -> Iterator[Deployment]:
    """`ingestspec generate` into `folder`, and the package served on SQLite by a real process."""
    generated = run(BIN / "ingestspec", "generate", case.spec, "--out", folder / case.package)
    if generated.returncode != 0:
        pytest.fail(f"generate {case.spec}: {shown(generated)}")
    spec = load_spec(case.spec)
    found = Deployment(case, folder, spec.base_path, spec.ingest_operations[0])
    db = f"sqlite:///{folder / 'events.db'}"
    with running_server(
        case.package, case.config, db, spec.base_path, log_dir=folder, pythonpath=folder
    ) as server:
        found.server = server
        yield found


@pytest.fixture(scope="module", params=SERVED, ids=lambda case: case.name)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    case: Served = request.param
    with deployed(case, tmp_path_factory.mktemp(case.name)) as found:
        yield found


def expect_failure(request: pytest.FixtureRequest, reason: str) -> None:
    """Mark a known failure (not strict: the lead removes the reason once the feature lands)."""
    if reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=False))


# -- served specs -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", SERVED, ids=lambda case: case.name)
def test_lint_accepts(case: Served) -> None:
    result = run(BIN / "ingestspec", "lint", case.spec)
    assert result.returncode == 0, shown(result)


@pytest.mark.parametrize("seed", SEEDS)
def test_contract_passes_on_the_generated_server(
    deployment: Deployment, seed: int, request: pytest.FixtureRequest
) -> None:
    case = deployment.case
    if not case.contract_xfail_seeds or seed in case.contract_xfail_seeds:
        expect_failure(request, case.contract_xfail)
    result = deployment.verdict(seed)
    assert result.returncode == 0, shown(result)


def schemathesis_auth(deployment: Deployment) -> list[str]:
    """Schemathesis options that send the first project's key as the operation's scheme wants."""
    key = deployment.case.keys()[0]
    schemes = deployment.operation.schemes
    if not schemes:  # the key travels in a body field Schemathesis fills with generated data
        return []
    scheme = schemes[0]
    if scheme.kind == "basic":
        # The key in the part x-ingest-basic names (`both`: the key is `user:password` itself).
        return ["--auth", {"both": key, "password": f"user:{key}"}.get(scheme.basic_key, f"{key}:")]
    if scheme.kind == "bearer":
        return ["--header", f"Authorization: Bearer {key}"]
    if scheme.kind == "header":
        return ["--header", f"{scheme.parameter}: {key}"]
    pytest.fail(f"no Schemathesis option sends a key as {scheme.kind}")


@pytest.mark.deep
def test_schemathesis_finds_no_server_error_and_no_nonconforming_reply(
    deployment: Deployment, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    expect_failure(request, deployment.case.st_xfail)
    assert deployment.server is not None
    result = run(
        BIN / "st", "run", deployment.case.spec, "--url", deployment.server.base_url,
        "--checks", "not_a_server_error,response_schema_conformance",
        "--max-examples", ST_EXAMPLES, "--seed", "1", "--workers", "1",
        "--generation-database", "none", "--no-color", *schemathesis_auth(deployment),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, shown(result)


@pytest.mark.parametrize(
    ("deployment", "detection"),
    [(case, detection) for case in SERVED for detection in case.detections()],
    indirect=["deployment"],
    scope="module",  # grouped with the other tests of the same deployment: one server per spec
    ids=lambda value: value.name if isinstance(value, Served) else value.fault,
)
def test_the_contract_suite_catches_a_relevant_fault(
    deployment: Deployment, detection: Detection, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    expect_failure(request, detection.xfail)
    assert_fault_caught(deployment, detection, tmp_path)


def assert_fault_caught(deployment: Deployment, detection: Detection, tmp_path: Path) -> None:
    """The fault installed in the deployment's package is caught by its detector (exit 1)."""
    case = deployment.case
    correct = failed_tests(deployment.verdict(1).stdout)
    if detection.detector in correct:
        pytest.xfail(
            f"{detection.detector} fails on the correct server too, so catching {detection.fault} "
            "proves nothing"
        )
    extra = ["--package", case.package, "--fault", detection.fault]
    db = f"sqlite:///{tmp_path / 'events.db'}"
    with running_server(
        "tests.corpus.faulty", case.config, db, deployment.base_path,
        log_dir=tmp_path, extra=extra, pythonpath=deployment.folder,
    ) as faulty:  # fmt: skip
        result = deployment.contract(faulty.base_url)
    # A fault that crashes the server (it no longer fits the generated code) is caught for the wrong reason.
    if detection.fault not in CRASHING_FAULTS:
        log = faulty.log.read_text()
        assert "Traceback" not in log, f"{detection.fault} crashed the server: {log[-3000:]}"
    assert result.returncode == 1, f"{detection.fault} went undetected: {shown(result)}"
    assert detection.detector in failed_tests(result.stdout), shown(result)


# -- refused specs ------------------------------------------------------------------------------


def lint_problems(case: Refused) -> tuple[int, list[dict[str, object]]]:
    result = run(BIN / "ingestspec", "lint", case.spec, "--format", "json")
    assert result.stdout.strip(), shown(result)
    return result.returncode, json.loads(result.stdout)


def assert_lint_refuses_naming_each_place(case: Refused) -> None:
    """Lint exits 1 naming each of the case's places, with a fragment of what it says there."""
    code, problems = lint_problems(case)
    assert code == 1
    located = {(str(p["pointer"]), str(p["message"])) for p in problems}
    for pointer, fragment in case.problems:
        assert any(p == pointer and fragment in m for p, m in located), (pointer, fragment, located)
    assert all(int(str(p["line"])) > 0 for p in problems)


def assert_lint_refuses_for_those_reasons_only(case: Refused) -> None:
    _, problems = lint_problems(case)
    expected = {pointer for pointer, _ in case.problems}
    # The refusal's reasons are its errors; warnings say what is served with a caveat.
    errors = [p for p in problems if p["severity"] == "error"]
    assert {str(p["pointer"]) for p in errors} == expected, problems


def assert_generate_refuses_and_writes_nothing(case: Refused, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run(BIN / "ingestspec", "generate", case.spec, "--out", out)
    assert result.returncode == 2, shown(result)
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
def test_lint_refuses_naming_each_place(case: Refused) -> None:
    assert_lint_refuses_naming_each_place(case)


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
def test_lint_refuses_for_those_reasons_only(case: Refused, request: pytest.FixtureRequest) -> None:
    expect_failure(request, case.extra_xfail)
    assert_lint_refuses_for_those_reasons_only(case)


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
def test_generate_refuses_and_writes_nothing(case: Refused, tmp_path: Path) -> None:
    assert_generate_refuses_and_writes_nothing(case, tmp_path)
