"""`ingestspec contract`: usage errors exit 2 with one line; a conforming server exits 0, a broken one 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingestspec.generator.cli.main import main
from tests.conftest import EXAMPLE_CONFIG, REPO, SPECS
from tests.contract.conftest import ACME_KEY, GLOBEX_KEY, StandIn, run_contract
from tests.servers import free_port


def usage(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["contract", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["nosuch"], "no spec at 'nosuch'"),
        ([str(EXAMPLE_CONFIG)], "only OpenAPI 3.1"),
        (["arsel", "--config", str(SPECS["arsel"])], "projects"),
        (["arsel", "--api-key", "not_a_known_key"], "is not given to any project"),
        (
            ["arsel", "--api-key", ACME_KEY, "--api-key", "be_your_api_key"],
            "both API keys belong to project acme",
        ),
        (["arsel", "--base-url", "ftp://x"], "must be an http(s) URL"),
        (["arsel", "--base-url", f"http://127.0.0.1:{free_port()}/v1"], "unreachable"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], reason: str) -> None:
    defaults = {"--base-url": f"http://127.0.0.1:{free_port()}", "--config": str(EXAMPLE_CONFIG)}
    for option, value in defaults.items():
        if option not in args:
            args = [*args, option, value]
    if "--api-key" not in args:
        args = [*args, "--api-key", ACME_KEY]
    code, output = usage(*args)
    assert code == 2, output
    assert reason in output and len(output.strip().splitlines()) == 1, output


def test_a_conforming_server_passes(standin: StandIn, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    with standin("arsel") as server:
        result = run_contract(
            SPECS["arsel"], server.base_url, "--max-examples", "15", "--junit-xml", str(junit)
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Conformance matrix" in result.stdout and "No failures." in result.stdout
    assert "Hint:" not in result.stdout
    assert "<testsuite" in junit.read_text()


def test_the_suite_runs_under_plain_pytest(standin: StandIn) -> None:
    with standin("sendrealm") as server:
        command = [
            sys.executable,
            "-m",
            "pytest",
            "contract_tests",
            "-p",
            "no:cacheprovider",
            "-q",
            "--spec",
            str(SPECS["sendrealm"]),
            "--base-url",
            server.base_url,
            "--config",
            str(EXAMPLE_CONFIG),
            "--api-key",
            ACME_KEY,
            "--api-key",
            GLOBEX_KEY,
            "--max-examples",
            "10",
        ]
        result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Conformance matrix" in result.stdout and "passed" in result.stdout


def test_a_broken_server_fails_with_a_reproducible_report(standin: StandIn) -> None:
    with standin("sendrealm", "no_dedupe") as server:
        result = run_contract(SPECS["sendrealm"], server.base_url, "--max-examples", "15")
    assert result.returncode == 1, result.stdout + result.stderr
    summary = result.stdout.split("Failures by operation and check")[1]
    assert "one_event_per_key" in summary and "curl -sS -i -X POST" in summary
    assert "NO (" in result.stdout.split("Conformance matrix")[1]


def test_the_installed_suite_runs_by_package_name_from_any_folder(standin: StandIn, tmp_path: Path) -> None:
    with standin("sendrealm") as server:
        command = [sys.executable, "-m", "pytest", "-p", "ingestspec.contract_tests.plugin", "--pyargs",
                   "ingestspec.contract_tests", "-p", "no:cacheprovider", "-q",
                   "--spec", str(SPECS["sendrealm"]), "--base-url", server.base_url,
                   "--config", str(EXAMPLE_CONFIG), "--max-examples", "5"]  # fmt: skip
        env = {**os.environ, "INGESTSPEC_API_KEY": ACME_KEY}
        result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Conformance matrix" in result.stdout and "passed" in result.stdout
