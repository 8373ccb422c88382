"""A missing or broken configuration under plain `uvicorn pkg.asgi:app` (the README's deployment
command): the server refuses to start in one line naming the problem, and uvicorn stops, with one
process or a supervisor of two. Each worker process used to die with a traceback and be started
again, forever, with the port open (104 tracebacks in 20 s)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.contract.conftest import generated
from tests.servers import REPO, free_port

UVICORN = Path(sys.executable).parent / "uvicorn"
PACKAGE = "generated_server.arsel"


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(
    ("problem", "named"),
    [("missing", "cannot read the configuration"), ("broken", "config.yaml")],
)
def test_a_bad_config_under_uvicorn_exits_once_with_one_line(
    tmp_path: Path, workers: int, problem: str, named: str
) -> None:
    if not generated("arsel"):
        pytest.skip("generated_server/arsel has not been generated yet")
    config = tmp_path / "config.yaml"
    if problem == "broken":
        config.write_text("projects:\n  - id: acme\n    api_keys: [unclosed\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "INGESTSPEC_CONFIG": str(config)}
    env["INGESTSPEC_DB"] = f"sqlite:///{tmp_path / 'events.db'}"
    command = [str(UVICORN), f"{PACKAGE}.asgi:app", "--port", str(free_port()), "--workers", str(workers)]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    took = time.monotonic() - started
    output = result.stdout + result.stderr
    assert took < 20, f"uvicorn ran for {took:.0f} s:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
    refusals = [line for line in output.splitlines() if line.startswith(f"{PACKAGE}: ")]
    # Each worker process that got as far as reading the configuration says so once, in the same line.
    assert 1 <= len(refusals) <= workers and len(set(refusals)) == 1, output
    assert str(config) in refusals[0] and named in refusals[0], refusals
    if workers == 1:
        assert result.returncode == 3, output  # uvicorn's status for an app that failed to start
    else:
        # The supervisor stops rather than starting workers again. (Its own status is uvicorn's
        # choice: 0.55 exits 0 after stopping for a worker that failed to start.)
        assert "failed to start, stopping the parent process" in output, output
        assert "died" not in output, output
