"""`make test` runs under xdist's `--dist loadgroup`: the tests sharing a module-scoped fixture must
reach one worker, or each worker makes the fixture again (a wheel, a generated server: `make test`
took half as long again while this grouping silently did nothing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.servers import REPO

SHARED_MODULE = """
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    marks = Path(os.environ["MADE"])
    with marks.open("a") as out:
        out.write(os.environ.get("PYTEST_XDIST_WORKER", "-") + "\\n")


@pytest.mark.parametrize("n", range(8))
def test_shares(made, n):
    pass


@pytest.mark.parametrize("n", range(8))
def test_alone(n):
    pass
"""

# The repository's own hook, as the scratch folder's conftest.
CONFTEST = "from tests.conftest import pytest_collection_modifyitems  # noqa: F401\n"


def test_tests_sharing_a_module_fixture_run_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_shared.py").write_text(SHARED_MODULE)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    made = tmp_path / "made.txt"
    command = [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p", "no:randomly"]
    done = subprocess.run(
        [*command, "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"MADE": str(made), "PYTHONPATH": str(REPO), "PATH": ""},
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert made.read_text().splitlines() in (["gw0"], ["gw1"]), "the module fixture was made per worker"
