"""Fixtures for the contract suite's own tests: targets built without a server, and a stand-in server."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from ingestspec.contract_tests.target import Target, load_target
from tests.conftest import EXAMPLE_CONFIG, REPO, SPECS
from tests.servers import RunningServer, running_server

ACME_KEY = "be_acme_test_key"
GLOBEX_KEY = "be_globex_test_key"
BASE_PATHS = {"arsel": "/v1", "sendrealm": ""}
# The console script installed beside this interpreter.
INGESTSPEC = Path(sys.executable).parent / "ingestspec"


def generate(spec: Path, out: Path) -> Path:
    """`ingestspec generate spec --out out`, as a user runs it; the package's folder."""
    subprocess.run([str(INGESTSPEC), "generate", str(spec), "--out", str(out)], check=True)
    return out


@contextlib.contextmanager
def generated_and_served(spec: Path, package: str, folder: Path) -> Iterator[RunningServer]:
    """The package `ingestspec generate` makes of `spec` in `folder`, served on a SQLite file there
    with the example configuration, at the base path `/v1`."""
    generate(spec, folder / package)
    db = f"sqlite:///{folder / 'events.db'}"
    with running_server(package, EXAMPLE_CONFIG, db, "/v1", log_dir=folder, pythonpath=folder) as running:
        yield running


def run_contract(
    spec: Path | str, base_url: str, *extra: str, keys: tuple[str, ...] = (ACME_KEY, GLOBEX_KEY)
) -> subprocess.CompletedProcess[str]:
    """`ingestspec contract` as a user runs it, against the example configuration."""
    command = [
        str(INGESTSPEC),
        "contract",
        str(spec),
        "--base-url",
        base_url,
        "--config",
        str(EXAMPLE_CONFIG),
    ]
    for key in keys:
        command += ["--api-key", key]
    return subprocess.run([*command, *extra], capture_output=True, text=True, cwd=REPO, timeout=900)


def generated(api: str) -> bool:
    """Whether the reference server for `api` has been generated into generated_server/."""
    return (REPO / "generated_server" / api / "app.py").exists()


def offline_target(api: str, *keys: str) -> Target:
    """A target for the API's spec and the example configuration, with no server behind it."""
    return load_target(
        SPECS[api],
        "http://127.0.0.1:9",
        keys or (ACME_KEY, GLOBEX_KEY),
        EXAMPLE_CONFIG,
        check_reachable=False,
    )


StandIn = Callable[..., AbstractContextManager[RunningServer]]


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[StandIn]:
    """Start the stand-in server for an API (optionally with one fault) on a free loopback port."""

    def start(api: str, fault: str = "", spec: Path | None = None) -> AbstractContextManager[RunningServer]:
        extra = ["--spec", str(spec or SPECS[api])] + (["--fault", fault] if fault else [])
        return running_server(
            "tests.contract.standin", EXAMPLE_CONFIG, "memory", BASE_PATHS[api], log_dir=tmp_path, extra=extra
        )

    yield start


# -- the fault detection table ------------------------------------------------------------------

_DETECTIONS: list[Any] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # user_properties travel from pytest-xdist workers to the controller, where the table is printed.
    if report.when == "call":
        _DETECTIONS.extend(value for name, value in report.user_properties if name == "fault_detection")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _DETECTIONS:
        return
    terminalreporter.section("contract suite: fault detection")
    rows = [("api", "fault", "detected", "failing tests")]
    for item in sorted(_DETECTIONS, key=lambda d: (str(d["api"]), str(d["fault"]))):
        by = [str(b) for b in item["by"]]  # type: ignore[attr-defined]
        shown = ", ".join(by[:4]) + (f", … ({len(by)})" if len(by) > 4 else "")
        rows.append((str(item["api"]), str(item["fault"]), "yes" if item["code"] == 1 else "NO", shown))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        terminalreporter.write_line(
            "  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
        )
    missed = sum(1 for row in rows[1:] if row[2] == "NO")
    terminalreporter.write_line(f"{len(rows) - 1 - missed} of {len(rows) - 1} faults detected")
